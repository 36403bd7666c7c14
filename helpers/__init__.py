"""Private-domain (私域) growth workbook: the helper package behind the notebooks.

One module per method family:

- :mod:`helpers.contract` — the data contract (tables, columns, rules)
- :mod:`helpers.data` — load, validate, quarantine and count exported tables
- :mod:`helpers.simulate` — seeded simulator with planted truth (``python -m helpers.simulate``)
- :mod:`helpers.engine` — DuckDB / Spark engine layer (ibis)
- :mod:`helpers.features` — per-user and per-path reductions in the engine
- :mod:`helpers.plotting` — Chinese-capable plot style
- :mod:`helpers.run` — the papermill report runner
"""

__version__ = "0.1.0"
