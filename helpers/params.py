"""The one parameter contract: every report parameter, checked before any notebook runs; dates from the data.

Every parameter a notebook declares is listed once in :data:`SCHEMA` with its type, allowed values, default, a
one-line description and the notebooks that use it. The runner (:mod:`helpers.run`) checks a params file and
every ``-p`` override against it before the first notebook starts; each notebook's ``parameters`` cell is
generated from it (a test keeps them equal) and its first code cell, :func:`start_notebook`, checks the values
again — so a notebook run by hand in JupyterLab gets the same checks and the same dates.

**Dates come from the data.** Date parameters default to ``"auto"``: ``as_of`` becomes the day after the last
event in the clean tables, the analysis window the last 12 months observed, ``calibration_end`` leaves a holdout
that fits the span, ``previous_as_of`` is 90 days before ``as_of``. A date given explicitly is checked against
the data's span: outside it, the notebook stops with the reason or prints a warning naming the parameter and the
span. Only the sample's own params file (``params/default.yaml``) names sample dates.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from helpers.base import hold_thread_pools

__all__ = [
    "NOTEBOOKS",
    "SCHEMA",
    "Dates",
    "NotebookRun",
    "Param",
    "ParamError",
    "check",
    "check_run_name",
    "data_span",
    "derive_dates",
    "help_text",
    "markdown_table",
    "parameters_cell",
    "start_notebook",
]

#: The notebooks of the report, in order.
NOTEBOOKS = (
    "00_data_prep",
    "01_acquisition",
    "02_user_tiers",
    "03_repurchase",
    "04_attribution",
    "05_community",
    "06_targeting",
    "07_staff",
    "08_summary",
)
_ALL = NOTEBOOKS
#: Folder of ``output_dir`` where the runner marks the notebooks of a run that have not ended (one empty file each).
RUNNING = ".running"
_AFTER_PREP = NOTEBOOKS[1:]
AUTO = "auto"
NONE = "none"


class ParamError(ValueError):
    """A parameter is unknown, of the wrong type, or outside its allowed values (one-line message)."""


@dataclass(frozen=True)
class Param:
    """One report parameter.

    Attributes
    ----------
    name : str
        The name used in params files, ``-p`` and notebooks.
    kind : {"str", "int", "float", "bool", "date", "choice", "path", "timezone"}
        How a value is parsed and checked. ``date`` accepts ``"auto"`` or an ISO date (``YYYY-MM-DD``).
    default : object
        The value when a params file does not set it (``None``: required by the runner).
    help : str
        One line for ``--help``, the README and the notebooks' parameters cells.
    notebooks : tuple of str
        The notebooks that declare it.
    choices : tuple, optional
        Allowed values (``choice``), or extra keywords a ``date`` accepts (``"none"``).
    low, high : float, optional
        Inclusive bounds of numbers.
    notebook_default : object, optional
        The default written in the notebooks' parameters cells when it differs from ``default`` (paths relative
        to ``notebooks/``, so a notebook opened in JupyterLab runs on the sample as it is).
    """

    name: str
    kind: str
    default: Any
    help: str
    notebooks: tuple[str, ...]
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    notebook_default: Any = None

    def __post_init__(self) -> None:
        if "=" in self.help or "\n" in self.help:
            raise ValueError(f"{self.name}: a help text is one line without '=' (papermill parses one '=' per line)")

    @property
    def cell_default(self) -> Any:
        """Return the default written in a notebook's parameters cell."""
        return self.default if self.notebook_default is None else self.notebook_default

    @property
    def annotation(self) -> str:
        """Return the Python type of the value inside a notebook."""
        return {"int": "int", "float": "float", "bool": "bool"}.get(self.kind, "str")


def _p(*args, **kw) -> Param:
    return Param(*args, **kw)


#: Every report parameter, in the order the README lists them.
# fmt: off
SCHEMA: dict[str, Param] = {p.name: p for p in (
    _p("data_dir", "path", None, "folder of exported tables (contacts.csv, orders.xlsx, …); required in a params "
       "file", ("00_data_prep",), notebook_default="../data/sample"),
    _p("demo", "bool", False, "pseudonyms with the public demo key: the bundled simulated sample only (the runner "
       "sets it; your data use your own key)", ("00_data_prep",), notebook_default=True),
    _p("output_dir", "path", "", "where the run writes clean tables, quality files, exports and artifacts (the "
       "runner sets it)", _ALL, notebook_default="../reports/interactive"),
    _p("engine", "choice", "duckdb", "engine for the per-event work: duckdb or pyspark", _ALL,
       choices=("duckdb", "pyspark")),
    _p("tables", "tables", "", "contract tables read from Spark's catalog instead of data_dir, comma-separated "
       "(orders: table:dw.orders, touches: table:dw.touches); engine pyspark", ("00_data_prep",)),
    _p("ingest", "choice", "auto", "who validates a Parquet table: auto (the engine from 4 MiB up), engine, or "
       "chunks (pandas); the same result", ("00_data_prep",), choices=("auto", "engine", "chunks")),
    _p("lang", "choice", "zh", "report language: zh Chinese or en English (pages, tables, charts, exports)", _ALL,
       choices=("zh", "en")),
    _p("teaching", "bool", False, "teaching mode: exercises with worked answers and the truth checks on the page "
       "(off: a business report without them)", _ALL, notebook_default=True),
    _p("names_file", "path", "", "optional CSV of display names for your own codes: kind, code, zh, en (channels, "
       "campaigns, groups; staff by your own staff ids …)", ("00_data_prep",)),
    _p("as_of", "date", AUTO, "export date: data are observed before it; auto: the day after the last event", _ALL),
    _p("timezone", "timezone", "Asia/Shanghai", "naive timestamps are local time here; tz-aware ones are converted "
       "to it", ("00_data_prep",)),
    _p("window_start", "date", AUTO, "analysis window, first day; auto: 365 days before as_of (or the first day of "
       "data)", ("00_data_prep", "01_acquisition", "05_community", "07_staff")),
    _p("window_end", "date", AUTO, "analysis window, last day (inclusive); auto: the day before as_of",
       ("00_data_prep", "01_acquisition", "05_community", "07_staff")),
    _p("conversion_window_days", "int", 30, "a first order counts as a conversion within this many days of the add",
       ("01_acquisition", "07_staff", "08_summary"), low=1, high=3650),
    _p("lead_window_days", "int", 7, "a lead counts as added if added within this many days of the scan",
       ("01_acquisition",), low=1, high=365),
    _p("freq", "choice", "W", "period of the adds chart: W weeks or M months", ("01_acquisition",),
       choices=("W", "M")),
    _p("channel_groups", "str", "", "regroup channels: pairs like store_qr:线下; parcel_card:线下 (empty keeps them)",
       ("01_acquisition",)),
    _p("control_variant", "str", "A", "reference invitation script of the variant test", ("01_acquisition",)),
    _p("alpha", "float", 0.05, "significance level; intervals are 1 − alpha",
       ("01_acquisition", "04_attribution", "05_community", "06_targeting", "07_staff"), low=0.001, high=0.5),
    _p("gross_margin", "float", 0.4, "share of GMV that is gross profit (payback, CLV)",
       ("01_acquisition", "03_repurchase", "06_targeting"), low=0.001, high=1.0),
    _p("currency", "str", "¥", "currency symbol shown beside money (amounts are not converted)",
       ("01_acquisition", "02_user_tiers", "03_repurchase", "06_targeting", "07_staff", "08_summary")),
    _p("previous_as_of", "date", AUTO, "earlier snapshot for tier migration; auto: as_of − 90 days; none skips",
       ("00_data_prep", "02_user_tiers"), choices=(NONE,)),
    _p("new_days", "int", 60, "contacts added fewer days ago than this are new (新客)", ("02_user_tiers",),
       low=0, high=3650),
    _p("k", "int", 0, "clusters among established buyers (0 chooses k by silhouette)", ("02_user_tiers",),
       low=0, high=30),
    _p("k_min", "int", 3, "smallest k tried", ("02_user_tiers",), low=2, high=30),
    _p("k_max", "int", 8, "largest k tried", ("02_user_tiers",), low=2, high=30),
    _p("random_state", "int", 0, "seed of KMeans and the bootstrap (same seed, same tiers)", ("02_user_tiers",),
       low=0, high=2**31 - 1),
    _p("n_boot", "int", 20, "bootstrap resamples for the tier stability check", ("02_user_tiers",),
       low=0, high=1000),
    _p("top_share_of_buyers", "float", 0.2, "the top share of buyers in the 80/20 check", ("02_user_tiers",),
       low=0.01, high=0.99),
    _p("calibration_end", "date", AUTO, "models are fitted on purchases up to this day and validated after it; auto "
       "leaves a holdout of about a quarter of the span (4–26 weeks)", ("00_data_prep", "03_repurchase")),
    _p("unit", "choice", "D", "time unit of the repurchase models: D days or W weeks", ("03_repurchase",),
       choices=("D", "W")),
    _p("horizon_days", "int", 60, "H: 'will buy in the next H days' and the contact list's value horizon",
       ("03_repurchase", "06_targeting"), low=1, high=3650),
    _p("clv_horizon_days", "int", 365, "lifetime-value horizon in days", ("03_repurchase",), low=30, high=3650),
    _p("annual_discount_rate", "float", 0.1, "discount rate per year for CLV", ("03_repurchase",),
       low=0.0, high=1.0),
    _p("top_n", "int", 200, "length of the contact list", ("06_targeting",), low=1, high=1_000_000),
    _p("lookback_days", "int", 14, "touches within this many days before a conversion make up its path",
       ("04_attribution",), low=1, high=365),
    _p("conversion", "choice", "first", "first: a contact's first order is the conversion; all: every order",
       ("04_attribution",), choices=("first", "all")),
    _p("half_life_days", "float", 7.0, "time-decay attribution: a touch this many days earlier gets half the credit",
       ("04_attribution",), low=0.1, high=365.0),
    _p("markov_order", "int", 1, "Markov chain order of the attribution model", ("04_attribution",), low=1, high=4),
    _p("roi_model", "choice", "markov", "attribution model for campaign ROI", ("04_attribution",),
       choices=("markov", "shapley", "linear", "last", "first", "position", "time_decay")),
    _p("referral_min_age_days", "int", 90, "the K-factor counts inviters added at least this long before as_of",
       ("04_attribution",), low=0, high=3650),
    _p("silent_days", "int", 7, "a group member is silent after this many days without a message",
       ("05_community",), low=1, high=365),
    _p("top_groups", "int", 12, "groups shown in the small multiples", ("05_community",), low=1, high=100),
    _p("holdout_campaigns", "str", AUTO, "randomised tests the uplift models learn from: auto (every campaign in "
       "assignments) or campaign ids separated by commas", ("06_targeting",)),
    _p("uplift_model", "choice", "x_learner_hgb", "uplift model that drives the contact list, chosen in advance "
       "(the others are shown beside it)", ("06_targeting",),
       choices=("x_learner_hgb", "x_learner", "two_model_hgb", "two_model", "class_transformation")),
    _p("uplift_folds", "int", 5, "cross-fitting folds: every tested customer is scored by a model that never saw "
       "them", ("06_targeting",), low=2, high=20),
    _p("uplift_seed", "int", 0, "seed of the folds, the learners and the permutation test", ("06_targeting",),
       low=0, high=2**31 - 1),
    _p("deletion_days", "int", 30, "a deletion counts against a test's message up to this many days after the "
       "test ends", ("06_targeting",), low=0, high=365),
    _p("cooldown_days", "int", 7, "leave out anyone who ordered or was messaged within this many days",
       ("06_targeting",), low=0, high=365),
    _p("monthly_cap", "int", 4, "leave out anyone messaged this many times this month (WeCom: 4 broadcasts per "
       "customer per month)", ("06_targeting",), low=1, high=100),
    _p("private_chats", "int", 50, "staff capacity: the top rows get a private chat, the rest a broadcast",
       ("06_targeting",), low=0, high=1_000_000),
    _p("period_days", "int", 28, "length of the summary's current period; the previous one is as long, just before "
       "it", ("08_summary",), low=7, high=366),
)}
# fmt: on

_RUN_NAME = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9_.\-\u4e00-\u9fff]{0,63}$")


def _fail(name: str, value: Any, why: str, source: str) -> ParamError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "…'"
    return ParamError(f"{source}: parameter {name} = {shown}: {why}")


def _parse_date(p: Param, value: Any, source: str) -> str:
    if value is None or str(value).strip().lower() in ("", AUTO):
        return AUTO
    text = str(value).strip()
    if text.lower() in p.choices:
        return text.lower()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        keywords = ", ".join(['"auto"', *(f'"{c}"' for c in p.choices)])
        raise _fail(p.name, value, f"expected a date YYYY-MM-DD or {keywords}", source)
    try:
        return pd.Timestamp(text).strftime("%Y-%m-%d")
    except ValueError:
        raise _fail(p.name, value, "not a calendar date", source) from None


def _coerce(p: Param, value: Any, source: str, base: Path | None) -> Any:
    if p.kind == "date":
        return _parse_date(p, value, source)
    if p.kind == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("true", "yes", "1", "on"):
            return True
        if s in ("false", "no", "0", "off"):
            return False
        raise _fail(p.name, value, "expected true or false", source)
    if p.kind in ("int", "float"):
        if isinstance(value, bool):
            raise _fail(p.name, value, f"expected {'an integer' if p.kind == 'int' else 'a number'}", source)
        try:
            num = float(str(value).strip().replace("_", ""))
        except ValueError:
            raise _fail(p.name, value, f"expected {'an integer' if p.kind == 'int' else 'a number'}", source) from None
        if p.kind == "int":
            if not num.is_integer():
                raise _fail(p.name, value, "expected an integer", source)
            num = int(num)
        if (p.low is not None and num < p.low) or (p.high is not None and num > p.high):
            raise _fail(p.name, value, f"must be between {p.low:g} and {p.high:g}", source)
        return num
    text = "" if value is None else str(value)
    if p.kind == "choice":
        if text not in p.choices:
            near = difflib.get_close_matches(text, p.choices, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise _fail(p.name, value, f"allowed values are {', '.join(p.choices)}{hint}", source)
        return text
    if p.kind == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise _fail(p.name, value, "not an IANA time zone such as Asia/Shanghai or Europe/London", source) from None
        return text
    if p.kind == "tables":
        try:
            return format_tables(catalog_tables(value))
        except ValueError as err:
            raise _fail(p.name, value, str(err), source) from None
    if p.kind == "path":
        if text and base is not None and "://" not in text and not Path(text).expanduser().is_absolute():
            return str((base / text).resolve())
        return str(Path(text).expanduser()) if text and "://" not in text else text
    if "\n" in text or len(text) > 500:
        raise _fail(p.name, value, "must be one line of at most 500 characters", source)
    return text


def catalog_tables(value: str | Mapping[str, str] | None) -> dict[str, str]:
    """Read the ``tables`` parameter: contract tables mapped to ``table:<database>.<name>`` in Spark's catalog.

    A params file may give a mapping; a notebook holds the same as one line of ``table: source`` pairs.

    >>> catalog_tables("orders: table:dw.orders, touches:table:dw.touches")
    {'orders': 'table:dw.orders', 'touches': 'table:dw.touches'}
    >>> catalog_tables({"orders": "table:dw.orders"})
    {'orders': 'table:dw.orders'}
    >>> catalog_tables("")
    {}
    """
    from helpers.contract import TABLES
    from helpers.engine import CATALOG_PREFIX

    if isinstance(value, Mapping):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in value.items()]
    else:
        parts = [x.strip() for x in str(value or "").split(",") if x.strip()]
        if any(":" not in x for x in parts):
            raise ValueError("expected 'table: table:database.name' pairs separated by commas")
        pairs = [tuple(y.strip() for y in x.split(":", 1)) for x in parts]
    out: dict[str, str] = {}
    for table, source in pairs:
        if table not in TABLES:
            near = difflib.get_close_matches(table, list(TABLES), n=1)
            raise ValueError(f"{table!r} is not a contract table" + (f" (did you mean {near[0]!r}?)" if near else ""))
        name = source.removeprefix(CATALOG_PREFIX)
        if not source.startswith(CATALOG_PREFIX) or not re.fullmatch(r"[\w.]+", name):
            raise ValueError(f"{table}: expected {CATALOG_PREFIX}<database>.<name>, not {source!r}")
        if table in out:
            raise ValueError(f"{table} is given twice")
        out[table] = source
    return out


def format_tables(tables: Mapping[str, str]) -> str:
    """Write catalog tables as the ``tables`` parameter's one line (the inverse of :func:`catalog_tables`).

    >>> format_tables({"orders": "table:dw.orders", "touches": "table:dw.touches"})
    'orders: table:dw.orders, touches: table:dw.touches'
    """
    return ", ".join(f"{k}: {v}" for k, v in tables.items())


def check(
    values: Mapping[str, Any],
    *,
    source: str = "parameters",
    base: str | Path | None = None,
    notebook: str | None = None,
) -> dict[str, Any]:
    """Check parameter values against :data:`SCHEMA` and return them typed.

    Parameters
    ----------
    values : mapping
        Parameter name → value as written (YAML scalars read as text, ``-p`` strings, or typed values).
    source : str
        Where the values come from (named in error messages).
    base : str or Path, optional
        Folder that relative paths are resolved against (the same for a params file and ``-p``).
    notebook : str, optional
        When given, only this notebook's parameters are allowed.

    Returns
    -------
    dict
        The typed values (dates stay text: ``"auto"``, ``"none"`` or ``YYYY-MM-DD``).

    Raises
    ------
    ParamError
        One line naming the parameter: unknown (with a did-you-mean), wrong type or outside its values.

    Examples
    --------
    >>> check({"unit": "W", "horizon_days": "30", "as_of": "2011-12-10"})
    {'unit': 'W', 'horizon_days': 30, 'as_of': '2011-12-10'}
    >>> check({"unti": "W"})
    Traceback (most recent call last):
    ...
    helpers.params.ParamError: parameters: unknown parameter 'unti' (did you mean 'unit'?)
    >>> check({"as_of": "yesterday"})
    Traceback (most recent call last):
    ...
    helpers.params.ParamError: parameters: parameter as_of = 'yesterday': expected a date YYYY-MM-DD or "auto"
    """
    allowed = {n for n, p in SCHEMA.items() if notebook is None or notebook in p.notebooks}
    out: dict[str, Any] = {}
    basepath = Path(base) if base is not None else None
    for name, value in values.items():
        if name not in allowed:
            near = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
            where = f" of {notebook}" if notebook else ""
            hint = f" (did you mean {near[0]!r}?)" if near else f"; the parameters{where} are listed by --help"
            raise ParamError(f"{source}: unknown parameter {name!r}{hint}")
        if isinstance(value, (list, dict, tuple, set)) and not (
            SCHEMA[name].kind == "tables" and isinstance(value, dict)
        ):
            raise _fail(name, value, "must be a single value, not a list or mapping", source)
        out[name] = _coerce(SCHEMA[name], value, source, basepath)
    if "k_min" in out and "k_max" in out and out["k_min"] > out["k_max"]:
        raise ParamError(f"{source}: parameter k_min = {out['k_min']} is above k_max = {out['k_max']}")
    if out.get("tables") and out.get("engine", "duckdb") != "pyspark":
        raise ParamError(f"{source}: parameter tables = {out['tables']!r}: catalog tables are read by engine pyspark")
    return out


def check_run_name(name: Any, reports_dir: str | Path) -> Path:
    """Check a report name and return its folder: one safe folder name directly inside ``reports_dir``.

    Examples
    --------
    >>> check_run_name("weekly-2026W05", "/tmp/reports").as_posix()
    '/tmp/reports/weekly-2026W05'
    >>> check_run_name("../x", "/tmp/reports")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    helpers.params.ParamError: run_name '../x': use letters, digits, Chinese, '-', '_' or '.' ...
    """
    text = str(name) if name is not None else ""
    parent = Path(reports_dir).resolve()
    target = (parent / text).resolve()
    if not _RUN_NAME.fullmatch(text) or target.parent != parent:
        raise ParamError(
            f"run_name {text!r}: use letters, digits, Chinese, '-', '_' or '.' (at most 64, not starting with '.' "
            "or '-'); it names one folder inside the reports folder"
        )
    return target


# ------------------------------------------------------------------------------------------------ notebooks
def _literal(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def parameters_cell(notebook: str) -> str:
    """Return the source of ``notebook``'s ``parameters`` cell, generated from :data:`SCHEMA`.

    Examples
    --------
    >>> print(parameters_cell("08_summary").splitlines()[3])
    engine: str = "duckdb"  # engine for the per-event work: duckdb or pyspark
    """
    lines = [
        "# Parameters (papermill). Generated from helpers/params.py, which checks them (python -m helpers.run --help).",
        "# Dates: auto (derived from the data, printed below) or YYYY-MM-DD.",
    ]
    for p in SCHEMA.values():
        if notebook in p.notebooks:
            lines.append(f"{p.name}: {p.annotation} = {_literal(p.cell_default)}  # {p.help}")
    return "\n".join(lines)


def _default_text(p: Param) -> str:
    if p.default is None:
        return "(required)"
    return f"`{p.default}`" if p.default != "" else '`""`'


def markdown_table() -> str:
    """Return the README's parameter table (generated; a test keeps the README equal to it)."""
    rows = ["| parameter | type | default | what | notebooks |", "|---|---|---|---|---|"]
    for p in SCHEMA.values():
        kind = p.kind if p.kind != "choice" else " / ".join(p.choices)
        if p.kind == "date":
            kind = "date (`YYYY-MM-DD` or `auto`" + "".join(f" or `{c}`" for c in p.choices) + ")"
        nbs = "all" if p.notebooks == _ALL else ", ".join(n[:2] for n in p.notebooks)
        rows.append(f"| `{p.name}` | {kind} | {_default_text(p)} | {p.help} | {nbs} |")
    return "\n".join(rows) + "\n"


def help_text() -> str:
    """Return the parameter list printed by ``python -m helpers.run --help``."""
    lines = ["parameters (set in the params file or with -p NAME=VALUE):"]
    for p in SCHEMA.values():
        kind = "|".join(p.choices) if p.kind == "choice" else p.kind
        default = "required" if p.default is None else f"default {p.default!r}"
        lines.append(f"  {p.name:<24}{kind:<10} {default}; {p.help}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- dates
@dataclass(frozen=True)
class Dates:
    """The dates a run uses, each either given or derived from the data's span (see :func:`derive_dates`).

    Attributes
    ----------
    first_event, last_event : Timestamp
        The earliest and latest timestamp in the clean event tables (the data's span).
    as_of : Timestamp
        Midnight starting the export day: the data are observed before it.
    last_day : Timestamp
        The last whole day observed (``as_of`` − 1 day); every "through" in the notebooks means through it.
    window_start, window_end : Timestamp
        The analysis window (days, inclusive).
    calibration_end : Timestamp or None
        Last day of the repurchase models' calibration; ``None`` when the span is too short for a holdout.
    previous_as_of : Timestamp or None
        The earlier snapshot for tier migration; ``None`` when skipped.
    how : dict
        Per date: ``"given"`` or how it was derived.
    warnings : list of str
        Dates given outside the data's span (each names the parameter and the span).
    """

    first_event: pd.Timestamp
    last_event: pd.Timestamp
    as_of: pd.Timestamp
    last_day: pd.Timestamp
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    calibration_end: pd.Timestamp | None
    previous_as_of: pd.Timestamp | None
    how: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @property
    def observed_days(self) -> int:
        """Whole days from the first event's day to :attr:`last_day`."""
        return int((self.last_day - self.first_event.normalize()).days) + 1

    def table(self, lang: str = "en") -> pd.DataFrame:
        """One row per date: its value and how it was set (the record printed in every notebook)."""
        rows = []
        for name in ("as_of", "last_day", "window_start", "window_end", "calibration_end", "previous_as_of"):
            v = getattr(self, name)
            how = self.how.get(name, "")
            rows.append({"date": name, "value": "—" if v is None else f"{v:%Y-%m-%d}", "how": _how_text(how, lang)})
        return pd.DataFrame(rows).set_index("date")

    def warning_texts(self, lang: str = "en") -> list[str]:
        """Return the warnings about the given dates in the report language, each prefixed ("注意：" / "WARNING:").

        Examples
        --------
        >>> d = derive_dates(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-01"), as_of="2025-03-12")
        >>> d.warning_texts("zh")
        ['注意：as_of = 2025-03-12 比最后一条数据晚 10 天（数据 2025-01-01 至 2025-03-01）：导出完整吗？']
        """
        if lang != "zh":
            return [f"WARNING: {w}" for w in self.warnings]
        span = r"the data run from (\S+) to (\S+)"
        return ["注意：" + re.sub(span, r"数据 \1 至 \2", _translated(w, _WARN_ZH, lang)) for w in self.warnings]

    def record(self) -> dict:
        """Return the dates as text, for ``run.json``."""
        out = {"data_span": [f"{self.first_event:%Y-%m-%d %H:%M:%S}", f"{self.last_event:%Y-%m-%d %H:%M:%S}"]}
        for name, row in self.table().iterrows():
            out[name] = {"value": None if row["value"] == "—" else row["value"], "how": row["how"]}
        out["warnings"] = list(self.warnings)
        return out

    def describe(self, names: tuple[str, ...] | None = None, lang: str = "en") -> str:
        """One line: the data's span and the dates ``names`` (default: all), each with how it was set."""
        from helpers.labels import Labels

        L = Labels(lang)
        rows = self.table(lang)
        keep = [n for n in rows.index if n != "last_day" and (names is None or n in names)]
        if lang == "zh":
            span = f"数据 {self.first_event:%Y-%m-%d} 至 {self.last_event:%Y-%m-%d}"
            return (
                span
                + "；"
                + "；".join(f"{L.name('date', n)} {rows.at[n, 'value']}（{rows.at[n, 'how']}）" for n in keep)
            )
        span = f"data {self.first_event:%Y-%m-%d} – {self.last_event:%Y-%m-%d}"
        return span + "; " + "; ".join(f"{n} {rows.at[n, 'value']} ({rows.at[n, 'how']})" for n in keep)

    def __str__(self) -> str:
        return self.describe()


_HOW_ZH = [
    (r"^given$", "参数给定"),
    (r"^given, clipped to the data$", "参数给定，超出数据范围，已截到数据内"),
    (r"^given, outside the data: skipped$", "参数给定，不在数据范围内：跳过"),
    (r"^as_of − 1 day$", "as_of 前一天"),
    (r"^auto: the day after the last event$", "自动：最后一条数据的次日"),
    (r"^auto: 365 days before as_of$", "自动：as_of 前 365 天"),
    (r"^auto: the first day of data$", "自动：数据的第一天"),
    (r"^auto: the day before as_of$", "自动：as_of 前一天"),
    (r"^auto: as_of − 1 day − a (\d+)-week holdout$", r"自动：as_of 前一天再留出 \1 周验证期"),
    (
        r"^auto: none — (\d+) days of data are too few for a holdout \(need 56\)$",
        r"自动：无——数据只有 \1 天，不够留出验证期（需 56 天）",
    ),
    (r"^auto: as_of − 90 days$", "自动：as_of 前 90 天"),
    (r"^auto: none — fewer than 120 days of data$", "自动：无——数据不足 120 天"),
    (r"^none: skipped$", "none：跳过"),
]


_WARN_ZH = [
    (
        r"^as_of = (\S+) is (\d+) days after the last event \((.+)\): is the export complete\?$",
        r"as_of = \1 比最后一条数据晚 \2 天（\3）：导出完整吗？",
    ),
    (
        r"^(\w+) = (\S+) is outside the observed days \((.+), as_of (\S+)\): (\S+) is used$",
        r"\1 = \2 不在数据覆盖的日期内（\3，as_of \4）：改用 \5",
    ),
    (
        r"^previous_as_of = (\S+) is not between the first day of data and as_of \((.+), as_of (\S+)\): "
        r"migration is skipped$",
        r"previous_as_of = \1 不在数据首日与 as_of 之间（\2，as_of \3）：跳过分层迁移",
    ),
]


def _translated(text: str, patterns: list, lang: str) -> str:
    """Return ``text`` in the report language: English as written, Chinese by the first matching pattern."""
    if lang != "zh":
        return text
    for pattern, zh in patterns:
        if re.match(pattern, text):
            return re.sub(pattern, zh, text)
    return text


def _how_text(how: str, lang: str) -> str:
    """Return how a date was set, in the report language."""
    return _translated(how, _HOW_ZH, lang)


def _holdout_days(observed_days: int) -> int | None:
    """Return a holdout of about a quarter of the span in whole weeks (4–26); ``None`` below 8 weeks of data."""
    if observed_days < 56:
        return None
    return int(min(182, max(28, 7 * round(observed_days / 4 / 7))))


def derive_dates(
    first_event: str | pd.Timestamp,
    last_event: str | pd.Timestamp,
    *,
    as_of: str = AUTO,
    window_start: str = AUTO,
    window_end: str = AUTO,
    calibration_end: str = AUTO,
    previous_as_of: str = AUTO,
    source: str = "parameters",
) -> Dates:
    """Resolve every date of a run from the data's span and the dates given.

    Rules (``auto``): ``as_of`` = the day after the last event; ``window_end`` = the day before ``as_of``;
    ``window_start`` = 365 days before ``as_of``, or the first day of data if later; ``calibration_end`` =
    ``as_of`` − 1 − a holdout of about a quarter of the observed span in whole weeks (4–26 weeks; none below
    8 weeks of data); ``previous_as_of`` = ``as_of`` − 90 days when at least 30 days of data come before it.

    Checks of dates given: ``as_of`` before the first event, or more than 30 days after the last one (a stale
    export: everyone would look lapsed), and a ``calibration_end`` outside the observed days are errors; a window
    reaching outside the data is clipped and ``previous_as_of`` outside it skipped, each with a warning.

    Raises
    ------
    ParamError
        A given date that contradicts the data (the message names the parameter and the span).

    Examples
    --------
    >>> d = derive_dates("2010-12-01 08:26", "2011-12-09 12:50")
    >>> print(d)  # doctest: +NORMALIZE_WHITESPACE
    data 2010-12-01 – 2011-12-09; as_of 2011-12-10 (auto: the day after the last event);
    window_start 2010-12-10 (auto: 365 days before as_of); window_end 2011-12-09 (auto: the day before as_of);
    calibration_end 2011-09-09 (auto: as_of − 1 day − a 13-week holdout);
    previous_as_of 2011-09-11 (auto: as_of − 90 days)
    """
    first, last = pd.Timestamp(first_event), pd.Timestamp(last_event)
    span = f"the data run from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    how: dict[str, str] = {}
    warnings: list[str] = []
    a = _as_of(as_of, first, last, span, source, how, warnings)
    last_day, observed_first = a - pd.Timedelta(days=1), first.normalize()
    inside = f"{span}, as_of {a:%Y-%m-%d}"
    ws_auto = max(a - pd.Timedelta(days=365), observed_first)
    ws_how = "auto: 365 days before as_of" if ws_auto > observed_first else "auto: the first day of data"
    ws = _window_date("window_start", window_start, ws_auto, ws_how, (observed_first, last_day), inside, how, warnings)
    we = _window_date(
        "window_end",
        window_end,
        last_day,
        "auto: the day before as_of",
        (observed_first, last_day),
        inside,
        how,
        warnings,
    )
    if ws > we:
        raise ParamError(f"{source}: parameter window_start = {ws:%Y-%m-%d} is after window_end = {we:%Y-%m-%d}")
    cal = _calibration_end(calibration_end, observed_first, last_day, span, source, how)
    prev = _previous_as_of(previous_as_of, a, observed_first, inside, how, warnings)
    how["last_day"] = "as_of − 1 day"
    return Dates(first, last, a, last_day, ws, we, cal, prev, how, warnings)


def _as_of(
    as_of: str, first: pd.Timestamp, last: pd.Timestamp, span: str, source: str, how: dict, warnings: list
) -> pd.Timestamp:
    """Resolve ``as_of``: the day after the last event, or the date given if the data lie before it (not stale)."""
    if as_of == AUTO:
        how["as_of"] = "auto: the day after the last event"
        return last.normalize() + pd.Timedelta(days=1)
    a = pd.Timestamp(as_of)
    how["as_of"] = "given"
    if a <= first.normalize():
        raise ParamError(f"{source}: parameter as_of = {as_of}: no data before it ({span})")
    gap = (a - last.normalize()).days - 1
    if gap > 30:
        suggestion = last.normalize() + pd.Timedelta(days=1)
        raise ParamError(
            f"{source}: parameter as_of = {as_of} is {gap:,} days after the last event ({span}): every customer "
            f"would look lapsed; set as_of to the export date (e.g. {suggestion:%Y-%m-%d}) "
            "or to auto"
        )
    if gap > 7:
        warnings.append(f"as_of = {as_of} is {gap} days after the last event ({span}): is the export complete?")
    return a


def _window_date(
    name: str,
    value: str,
    auto_value: pd.Timestamp,
    auto_how: str,
    observed: tuple[pd.Timestamp, pd.Timestamp],
    inside: str,
    how: dict,
    warnings: list,
) -> pd.Timestamp:
    """Resolve one end of the reporting window: its ``auto`` value, or the date given clipped to the observed days."""
    if value == AUTO:
        how[name] = auto_how
        return auto_value
    d = pd.Timestamp(value)
    how[name] = "given"
    lo, hi = observed
    if lo <= d <= hi:
        return d
    clipped = min(max(d, lo), hi)
    warnings.append(f"{name} = {value} is outside the observed days ({inside}): {clipped:%Y-%m-%d} is used")
    how[name] = "given, clipped to the data"
    return clipped


def _calibration_end(
    value: str, observed_first: pd.Timestamp, last_day: pd.Timestamp, span: str, source: str, how: dict
) -> pd.Timestamp | None:
    """Resolve the end of calibration: a holdout of about a quarter of the span (none below 8 weeks), or as given."""
    if value == AUTO:
        observed = int((last_day - observed_first).days) + 1
        hold = _holdout_days(observed)
        if hold is None:
            how["calibration_end"] = f"auto: none — {observed} days of data are too few for a holdout (need 56)"
            return None
        how["calibration_end"] = f"auto: as_of − 1 day − a {hold // 7}-week holdout"
        return last_day - pd.Timedelta(days=hold)
    cal = pd.Timestamp(value)
    how["calibration_end"] = "given"
    if cal < observed_first + pd.Timedelta(days=7) or cal >= last_day:
        raise ParamError(
            f"{source}: parameter calibration_end = {value} must leave at least a week of calibration "
            f"and a day of holdout inside the observed days ({span}, last day {last_day:%Y-%m-%d})"
        )
    return cal


def _previous_as_of(
    value: str, a: pd.Timestamp, observed_first: pd.Timestamp, inside: str, how: dict, warnings: list
) -> pd.Timestamp | None:
    """Resolve the earlier snapshot for migration: ``as_of`` − 90 days with 30 days of data before it, or as given."""
    if value == NONE:
        how["previous_as_of"] = "none: skipped"
        return None
    if value == AUTO:
        prev = a - pd.Timedelta(days=90)
        if prev < observed_first + pd.Timedelta(days=30):
            how["previous_as_of"] = "auto: none — fewer than 120 days of data"
            return None
        how["previous_as_of"] = "auto: as_of − 90 days"
        return prev
    prev = pd.Timestamp(value)
    how["previous_as_of"] = "given"
    if observed_first < prev < a:
        return prev
    warnings.append(
        f"previous_as_of = {value} is not between the first day of data and as_of ({inside}): migration is skipped"
    )
    how["previous_as_of"] = "given, outside the data: skipped"
    return None


#: The main timestamp of each event table (what "the data's span" is measured on).
EVENT_TIMES = {
    "contacts": "added_at",
    "orders": "ordered_at",
    "touches": "touched_at",
    "messages": "sent_at",
    "leads": "created_at",
}


def data_span(engine) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp over the event tables of a clean dataset, computed in the engine.

    Parameters
    ----------
    engine : helpers.engine.Engine
        Connection to the clean tables.

    Returns
    -------
    (Timestamp, Timestamp)
    """
    firsts, lasts = [], []
    for name, col in EVENT_TIMES.items():
        if not engine.has(name):
            continue
        t = engine.table(name)
        row = engine.to_pandas(t.aggregate(first=t[col].min(), last=t[col].max()))
        if len(row) and pd.notna(row["first"].iloc[0]):
            firsts.append(pd.Timestamp(row["first"].iloc[0]))
            lasts.append(pd.Timestamp(row["last"].iloc[0]))
    if not firsts:
        raise ParamError("the clean tables hold no timestamps: nothing to derive dates from")
    return min(firsts), max(lasts)


@dataclass
class NotebookRun:
    """What :func:`start_notebook` hands a notebook: its checked parameters, paths, engine and dates.

    Attributes
    ----------
    notebook : str
        The notebook's name.
    params : dict
        The checked, typed parameters.
    out : Path
        ``output_dir``.
    clean : Path
        ``output_dir/clean``.
    engine : helpers.engine.Engine or None
        Connection to the clean tables (``None`` in ``00_data_prep`` until it has written them).
    dates : Dates or None
        The run's dates (``None`` until :meth:`connect`).
    """

    notebook: str
    params: dict
    out: Path
    clean: Path
    engine: Any = None
    dates: Dates | None = None

    @property
    def given_as_of(self) -> pd.Timestamp | None:
        """``as_of`` as given, or ``None`` when it is ``auto`` (then the loader quarantines only the future)."""
        value = self.params.get("as_of", AUTO)
        return None if value == AUTO else pd.Timestamp(value)

    @property
    def sources(self) -> dict[str, Any]:
        """Where and by whom ``data.load`` reads the tables: ``engine``, ``ingest`` and the ``catalog`` tables."""
        return {
            "engine": self.params.get("engine", "duckdb"),
            "ingest": self.params.get("ingest", "auto"),
            "catalog": catalog_tables(self.params.get("tables", "")),
        }

    def written_by(self, notebook: str, path: str, poll: float = 0.2) -> Path:
        """Return ``output_dir/path``, a file ``notebook`` writes, once it is there or that notebook has ended.

        The runner starts a notebook beside an earlier one it reads late (:data:`helpers.run.LATE`) and marks each
        notebook that has not ended in ``output_dir/.running``; run on its own, or after the writer, this waits for
        nothing. The file may still be missing (the writer failed or was not run): the caller decides.
        """
        target, unfinished = self.out / path, self.out / RUNNING / notebook
        while unfinished.exists() and not target.exists():
            time.sleep(poll)
        return target

    def folder(self, name: str) -> Path:
        """Return ``output_dir/name``, created if needed (``exports``, ``artifacts``)."""
        path = self.out / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def lang(self) -> str:
        """The report language."""
        return self.params.get("lang", "zh")

    @property
    def labels(self):
        """Display text in the report language, with the team's names file (copied by 00) on top."""
        from helpers.labels import Labels, run_names

        return Labels(self.lang, run_names(self.out), currency=self.params.get("currency", "¥"))

    def keep_names(self, names_file: str) -> Path | None:
        """Check a team's names file and write it to ``output_dir/names.csv`` for every later notebook.

        Staff are named by the team's own ids; the copy holds their keyed pseudonyms instead
        (:func:`helpers.privacy.pseudonymise_names`, with the key the tables were loaded with), so the ids stay out
        of the report and the names match the clean tables.
        """
        if not names_file:
            return None
        from helpers import privacy
        from helpers.labels import read_names

        read_names(names_file)  # a malformed file stops here, with the columns it lacks
        frame = pd.read_csv(names_file, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        key = privacy.check_key(privacy.pii_key(demo=bool(self.params.get("demo"))))
        frame, _ = privacy.pseudonymise_names(frame, key, source=Path(names_file).name)
        target = self.out / "names.csv"
        frame.to_csv(target, index=False, encoding="utf-8-sig")
        return target

    @property
    def truth(self) -> dict | None:
        """The planted truth copied by ``00_data_prep`` from simulated data (``None`` for real data)."""
        from helpers.truth import read_truth

        return read_truth(self.out / "truth")

    def connect(self, *, quiet: bool = False) -> NotebookRun:
        """Connect the engine to the clean tables and resolve the dates from their span (printed once).

        Returns
        -------
        NotebookRun
            ``self``, with :attr:`engine` and :attr:`dates` set.
        """
        from helpers.engine import connect

        self.engine = connect(self.clean, self.params["engine"])
        first, last = data_span(self.engine)
        given = {k: self.params[k] for k in _DATE_PARAMS if k in self.params}
        self.dates = derive_dates(first, last, source=self.notebook, **given)
        if not quiet:
            used = tuple(k for k in _DATE_PARAMS if k in self.params)
            for w, text in zip(self.dates.warnings, self.dates.warning_texts(self.lang), strict=True):
                if any(w.startswith(k) for k in used):
                    print(text)
            print(self.dates.describe(used, self.lang))
        return self

    def save_dates(self) -> Path:
        """Write the resolved dates to ``output_dir/quality/dates.json`` (the runner copies them to run.json)."""
        import json

        path = self.folder("quality") / "dates.json"
        path.write_text(json.dumps(self.dates.record(), ensure_ascii=False, indent=2), encoding="utf-8")
        return path


_DATE_PARAMS = ("as_of", "window_start", "window_end", "calibration_end", "previous_as_of")


def start_notebook(notebook: str, namespace: Mapping[str, Any], *, quiet: bool = False) -> NotebookRun:
    """Check a notebook's parameters; after ``00_data_prep``, also connect the engine and resolve the dates.

    Also holds the kernel's OpenMP and BLAS pools at one thread (:func:`helpers.base.hold_thread_pools`).

    The first code cell of every notebook. The values are the notebook's own parameter variables (papermill
    injects them); a wrong one stops the notebook with a one-line :class:`ParamError`. The resolved dates are
    printed once, warnings first.

    Parameters
    ----------
    notebook : str
        The notebook's name (``"03_repurchase"``).
    namespace : mapping
        The notebook's globals (only its declared parameters are read).
    quiet : bool
        Print nothing.

    Returns
    -------
    NotebookRun
    """
    hold_thread_pools(1)  # numpy's BLAS outside the models' own limits: one thread (spinning threads on a busy machine)
    declared = [n for n, p in SCHEMA.items() if notebook in p.notebooks]
    missing = [n for n in declared if n not in namespace]
    if missing:
        raise ParamError(f"{notebook}: the parameters cell lacks {', '.join(missing)} (see helpers/params.py)")
    values = check({n: namespace[n] for n in declared}, source=notebook, notebook=notebook, base=Path.cwd())
    out = Path(values["output_dir"])
    run = NotebookRun(notebook, values, out, out / "clean")
    return run if notebook == NOTEBOOKS[0] else run.connect(quiet=quiet)
