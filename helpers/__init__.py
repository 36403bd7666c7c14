"""Private-domain (私域) growth workbook: the helper package behind the notebooks.

Data flow, one direction: raw export → :mod:`~helpers.data` (readers, parsing, privacy, quarantine) → ``clean/``
tables → :mod:`~helpers.engine` (DuckDB or Spark through ibis) → :mod:`~helpers.features` (every per-event
reduction, written once as ibis expressions) → the method modules → labels, plots, pages and exports.

**Where code lives.** Per-event work (anything that reads an event table: orders, touches, messages, broadcasts,
relationships) is written as ibis expressions, so DuckDB or Spark runs it and no per-event table is pulled into
pandas. A reduction that several notebooks use lives in :mod:`helpers.features`; a reduction only one method
needs lives in that method's module beside the method (the staff scorecard's reductions in :mod:`helpers.staff`,
touch paths in :mod:`helpers.attribution`, daily group activity in :mod:`helpers.community`), as a function whose
event arguments are ibis tables. Method code (models, tests, tables for a page) takes the per-user or aggregate
pandas frames those reductions return and never reads files. **Input convention:** event tables arrive as ibis
tables (``run.engine.table(name)``; pandas frames are wrapped by :func:`helpers.features.as_table`); a reduction
returns an ibis expression that the notebook executes with ``run.engine.to_pandas``, or executes it itself through
a ``to_pandas=`` argument when it needs several round trips. Every model the package fits subclasses
:class:`helpers.base.FittedModel`.

Modules
-------
Running and parameters
    :mod:`~helpers.params` (the one parameter schema, dates from the data), :mod:`~helpers.run` (papermill runner),
    :mod:`~helpers.pages` (offline report pages and the run's index), :mod:`~helpers.exports` (Excel-safe files).
Reading the export
    :mod:`~helpers.contract` (tables, columns, rules, :class:`~helpers.contract.DataContractError`),
    :mod:`~helpers.readers` (files, encodings, Excel), :mod:`~helpers.parsing` (values), :mod:`~helpers.privacy`
    (keyed pseudonyms, masking, scanning), :mod:`~helpers.data` (load → clean tables + quarantine),
    :mod:`~helpers.quality` (accounting, coverage, quarantine summaries).
Engine and definitions
    :mod:`~helpers.engine`, :mod:`~helpers.features` (sales definitions, per-user and per-path reductions),
    :mod:`~helpers.definitions` ("not measured"), :mod:`~helpers.labels` (display text per report language).
Methods (one module per method family)
    :mod:`~helpers.acquisition` (拉新), :mod:`~helpers.tiers` (用户分层), :mod:`~helpers.repurchase` (复购 summaries,
    curves, contact-list legacy), :mod:`~helpers.clv` (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, Gamma-Gamma),
    :mod:`~helpers.clv_analysis` (model choice, intervals, value models, new-contact value),
    :mod:`~helpers.propensity` (ML purchase propensity), :mod:`~helpers.uplift` (uplift models and their evaluation),
    :mod:`~helpers.targeting` (whom to contact), :mod:`~helpers.attribution` (归因), :mod:`~helpers.community` (社群),
    :mod:`~helpers.summary` (总结: period KPIs, revenue decomposition), :mod:`~helpers.staff` (员工绩效),
    :mod:`~helpers.topics` (社群话题).
Shared
    :mod:`~helpers.base` (fitted-model base, standard errors), :mod:`~helpers.stats` (proportions, intervals,
    two-group comparisons with decisions as data), :mod:`~helpers.survival` (Kaplan–Meier by group and its plot),
    :mod:`~helpers.textmask` (personal data inside chat text), :mod:`~helpers.plotting` (style, bundled CJK font),
    :mod:`~helpers.truth` (planted truth checks), :mod:`~helpers.simulate` (the seeded simulator).
"""

__version__ = "0.2.0"
