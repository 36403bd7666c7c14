"""Exports staff can open: one Excel workbook per run, and CSVs that Excel on Chinese Windows reads correctly.

Two traps of the plain ``DataFrame.to_csv``: without a byte-order mark, Excel on Chinese Windows reads UTF-8 as
GBK (``¥11,253`` shows as ``楼11,253``, Chinese names as mojibake); and Excel turns an id such as ``00009325`` into
the number 9325. :func:`write_csv` always writes the BOM and writes ids as text; :func:`write_workbook` stores ids as
text cells (leading zeros kept, without Excel's "number stored as text" marker), rounds and formats numbers
(money with thousands separators, rates as %), sizes columns by display width (a Chinese character counts two),
freezes the header row and turns on the filter.

A column's kind (``id``, ``money``, ``rate``, ``int``, ``number``, ``date``, ``datetime``, ``bool``, ``text``) is
given in ``formats`` or inferred by :func:`column_kind` from its name and values.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.definitions import NOT_MEASURED

__all__ = [
    "HEADERS",
    "LEFT_OUT_SHEET",
    "NUMBER_FORMATS",
    "MACHINE_COLUMNS",
    "REPORT_SHEETS",
    "WORKBOOK_MAX_ROWS",
    "column_kind",
    "display_width",
    "read_csv_ids_as_text",
    "write_csv",
    "written_whole",
    "write_report_workbook",
    "write_workbook",
]

#: Excel number format per column kind.
NUMBER_FORMATS: dict[str, str] = {
    "id": "@",
    "text": "@",
    "int": "#,##0",
    "money": "#,##0.00",
    "rate": "0.0%",
    "number": "#,##0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
    "bool": "General",
}
#: Decimals a CSV keeps per kind (a workbook keeps full precision and formats the display).
CSV_DECIMALS = {"money": 2, "rate": 4, "number": 4}

#: Export column headers per language (to move into ``helpers.labels``); unknown columns keep their name.
HEADERS: dict[str, dict[str, str]] = {
    "zh": {
        "user_id": "用户ID",
        "staff_id": "员工ID",
        "owner": "负责员工",
        "campaign_id": "活动ID",
        "group_id": "社群ID",
        "channel": "渠道",
        "tier": "分层",
        "rfm_class": "RFM 类别",
        "score": "优先级得分",
        "p_alive": "仍活跃概率",
        "expected_orders": "预计订单数",
        "expected_value": "预计消费额",
        "days_since_last_order": "距上次下单天数",
        "touches_last_7d": "近7天触达次数",
        "reason": "原因",
        "action": "建议动作",
        "tenure_days": "加好友天数",
        "orders": "订单数",
        "net_gmv": "净成交额",
        "gmv": "成交额",
        "recency_days": "距最近购买天数",
        "orders_per_30d": "每30天订单数",
        "avg_order_value": "客单价",
        "is_friend": "仍是好友",
        "adds": "新增好友",
        "removals": "删除好友",
        "net_adds": "净增好友",
        "spend": "投放花费",
        "cac": "获客成本",
        "buyers": "购买人数",
        "conversion": "转化率",
        "repurchase_rate": "复购率",
        "table": "表",
        "row": "行号",
        "column": "列",
        "value": "原始值",
        "file": "文件",
        "read": "读取行数",
        "kept": "保留行数",
        "quarantined": "隔离行数",
    },
    "en": {},
}

_ID_NAME = re.compile(r"(?:^|_)id$|^id_|(?:^|_)ids?$", re.I)
_MONEY = {
    *("gmv", "value", "spend", "cac", "aov", "revenue", "amount", "price", "cost", "money", "sales", "clv", "ltv"),
    *("refund", "refunds"),
}
_RATE = {"rate", "share", "pct", "ratio", "conversion", "p", "prob", "probability", "churn", "retention"}
_BOOL_TEXT = {"zh": ("是", "否"), "en": ("yes", "no")}


def display_width(text: str) -> int:
    """Return the width of a text in character cells: East Asian wide and full-width characters count two.

    Examples
    --------
    >>> display_width("用户ID"), display_width("user_id")
    (6, 7)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_kind(name: str, values: pd.Series) -> str:
    """Infer how to store and show a column.

    Kinds: ``id``, ``bool``, ``date``/``datetime``, ``int``, ``money``, ``rate``, ``number`` or ``text``.

    Ids by name (``user_id``, ``staff_id``, ``id``); money and rates by a word of the name (``net_gmv``,
    ``avg_order_value``; ``p_alive``, ``share_of_gmv``, ``add_rate``) — a rate only when every value lies in
    [-1.5, 1.5], i.e. it is a fraction, not already a percentage; floats whose values are all whole numbers are
    ``int``.

    Parameters
    ----------
    name : str
        Column name.
    values : Series
        The column.

    Returns
    -------
    str

    Examples
    --------
    >>> column_kind("user_id", pd.Series(["00009325"]))
    'id'
    >>> column_kind("p_alive", pd.Series([0.99, 0.5])), column_kind("net_gmv", pd.Series([1.5]))
    ('rate', 'money')
    >>> column_kind("days_since_last_order", pd.Series([1.0, 3.0, None]))
    'int'
    >>> column_kind("change_pct", pd.Series([5.0, -11.9]))
    'number'
    >>> column_kind("ltv_cac", pd.Series([28.4, 3.1])), column_kind("ltv_to_cac_6", pd.Series([0.8]))  # not yuan
    ('number', 'number')
    """
    name = str(name)
    if _ID_NAME.search(name):
        return "id"
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        clean = values.dropna()
        if len(clean) and (clean.dt.tz_localize(None) if clean.dt.tz else clean).dt.normalize().eq(clean).all():
            return "date"
        return "datetime"
    if not pd.api.types.is_numeric_dtype(values):
        return "text"
    words = set(name.lower().split("_"))
    finite = pd.to_numeric(values, errors="coerce").dropna()
    if words & _RATE and (finite.abs() <= 1.5).all():
        return "rate"
    if words & _MONEY and len(words & _MONEY) < 2 and "to" not in words:  # ltv_cac, ltv_to_cac: a ratio of money
        return "money"
    if pd.api.types.is_integer_dtype(values) or (len(finite) and np.allclose(finite, np.round(finite))):
        return "int"
    return "number"


def _id_text(values: pd.Series) -> pd.Series:
    """Return ids as text: integers without a ``.0``, missing as missing, text unchanged."""
    if pd.api.types.is_float_dtype(values):
        values = values.astype("Int64")
    return values.astype("string")


def _kinds(df: pd.DataFrame, id_columns: Iterable[str] | None, formats: Mapping[str, str] | None) -> dict[str, str]:
    ids = set(id_columns) if id_columns is not None else set()
    out = {}
    for col in df.columns:
        given = (formats or {}).get(col)
        if given is not None:
            out[col] = given
        elif col in ids:
            out[col] = "id"
        else:
            kind = column_kind(col, df[col])
            out[col] = "text" if kind == "id" and id_columns is not None else kind
    return out


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    """Bring a named index (e.g. ``user_id``) into the columns; drop an unnamed range index."""
    if df.index.name is not None or isinstance(df.index, pd.MultiIndex):
        return df.reset_index()
    return df.reset_index(drop=True)


@contextmanager
def written_whole(path: str | Path) -> Iterator[Path]:
    """Yield a file beside ``path`` to write; it becomes ``path`` when the block ends, so ``path`` appears whole.

    A notebook the runner starts beside the writer waits for the file to exist (:data:`helpers.run.EARLY`,
    :data:`helpers.run.LATE`), so it must never see half of it. If the block fails, nothing is left behind.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "tiers.csv"
    >>> with written_whole(target) as partial:
    ...     _ = partial.write_text("user_id,tier")
    ...     print(target.exists(), partial.name)
    False .tiers.csv.partial
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('user_id,tier', ['tiers.csv'])
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_csv(
    df: pd.DataFrame,
    path: str | Path,
    *,
    id_columns: Iterable[str] | None = None,
    formats: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Path:
    r"""Write a CSV that Excel on Chinese Windows opens correctly: UTF-8 with BOM, ids as text, rounded numbers.

    A named index (e.g. ``user_id``) becomes the first column. Ids are written as text without a ``.0`` (read
    them back with ``dtype=str``; Excel itself still drops leading zeros from a CSV it opens by double-click — give
    staff the workbook of :func:`write_workbook`). Money keeps 2 decimals, rates 4, other floats 4; whole-number
    floats are written as integers.

    Parameters
    ----------
    df : DataFrame
        Table to write.
    path : str or Path
        CSV file (parent folders are created).
    id_columns : iterable of str, optional
        Id columns; default: inferred by name (:func:`column_kind`).
    formats : mapping, optional
        Column → kind (``money``, ``rate``, ``int``, ``number``, ``id``, ``text``…), overriding the inference.
    headers : mapping, optional
        Column → header written (e.g. :data:`HEADERS` ``["zh"]``); machine-read CSVs keep their column names.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "list.csv"
    >>> df = pd.DataFrame({"user_id": ["00009325"], "expected_value": [11253.20781], "p_alive": [0.99922876]})
    >>> _ = write_csv(df, p)
    >>> p.read_bytes()[:3] == b"\xef\xbb\xbf", p.read_text(encoding="utf-8-sig").splitlines()[1]
    (True, '00009325,11253.21,0.9992')
    """
    frame = _frame(df)
    kinds = _kinds(frame, id_columns, formats)
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        kind, values = kinds[col], frame[col]
        if kind in ("id", "text"):
            out[col] = _id_text(values) if kind == "id" else values
        elif kind == "int" and pd.api.types.is_numeric_dtype(values):
            out[col] = values.round().astype("Int64")
        elif kind in CSV_DECIMALS and pd.api.types.is_numeric_dtype(values):
            out[col] = values.round(CSV_DECIMALS[kind])
        else:
            out[col] = values
    if headers:
        out = out.rename(columns=dict(headers))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return path


def _sheet_name(name: str, used: set[str]) -> str:
    r"""Return a valid, unique Excel sheet name (≤ 31 characters, none of ``[]:*?/\``)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip("'")[:31] or "Sheet"
    out, i = base, 2
    while out.lower() in used:
        suffix = f" ({i})"
        out, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(out.lower())
    return out


def _cell_value(value, kind: str, lang: str):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if kind in ("id", "text"):
        if kind == "id" and isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)
    if kind == "bool":
        yes, no = _BOOL_TEXT[lang]
        return yes if bool(value) else no
    if isinstance(value, pd.Timestamp):
        return (value.tz_localize(None) if value.tz else value).to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shown(value, kind: str) -> str:
    """Approximate text Excel shows for a value (for the column width)."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, (int, float)):
        return f"{value:,.2f}"
    if kind == "rate" and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if kind == "int" and isinstance(value, (int, float)):
        return f"{value:,.0f}"
    if kind == "number" and isinstance(value, (int, float)):
        return f"{value:,.2f}"
    if kind == "date":
        return "2026-01-01"
    if kind == "datetime":
        return "2026-01-01 00:00"
    return str(value)


def write_workbook(
    path: str | Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    lang: str = "zh",
    headers: Mapping[str, str] | None = None,
    id_columns: Iterable[str] | None = None,
    formats: Mapping[str, str] | None = None,
    max_width: int = 60,
) -> Path:
    r"""Write one Excel workbook, one sheet per table, ready for staff.

    Headers in the report language (``headers`` first, then :data:`HEADERS` ``[lang]``, else the column name); ids
    as text cells (``00009325`` stays ``00009325``; Excel's "number stored as text" marker is switched off for
    them); numbers stored at full precision and shown formatted (money ``#,##0.00``, rates ``0.0%``, counts
    ``#,##0``); booleans as 是/否 (yes/no); missing values as empty cells, except that a column with no value in any
    row reads 未测量 (not measured) in every cell: this run did not measure it (no holdout, no touches, no staff),
    which an empty column would leave a reader to guess; text never turned into a formula or a link; column widths
    from the longest shown value (Chinese characters count two, capped at ``max_width``);
    header row frozen, bold, with a filter.

    Parameters
    ----------
    path : str or Path
        ``.xlsx`` file to write (parent folders are created).
    sheets : mapping of str to DataFrame
        Sheet name → table, in order. A named index (e.g. ``user_id``) becomes the first column. Names are made
        valid for Excel (≤ 31 characters, no ``[]:*?/\``).
    lang : {"zh", "en"}
        Language of headers and yes/no.
    headers : mapping, optional
        Column → header, overriding :data:`HEADERS`.
    id_columns : iterable of str, optional
        Id columns (stored as text); default: inferred by name (:func:`column_kind`).
    formats : mapping, optional
        Column → kind (see :data:`NUMBER_FORMATS`) or an Excel number format such as ``'"¥"#,##0'``.
    max_width : int
        Widest column, in character cells.

    Returns
    -------
    Path
        The written workbook.
    """
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    if lang not in _BOOL_TEXT:
        raise ValueError(f"lang must be 'zh' or 'en'; got {lang!r}")
    from helpers.labels import HEADERS as LABEL_HEADERS  # every page's headers: the workbook speaks like the pages

    names = {**{k: v[lang] for k, v in LABEL_HEADERS.items()}, **HEADERS.get(lang, {}), **(headers or {})}
    bounds = {"_low": ("下限", "lower"), "_high": ("上限", "upper")}
    for frame in sheets.values():  # an interval's bounds are named after their estimate: 回复率下限 / reply rate, lower
        for col in frame.columns:
            for suffix, (zh, en) in bounds.items():
                base = str(col).removesuffix(suffix)
                if col not in names and str(col).endswith(suffix) and base in names:
                    gap = " " if names[base][-1:].isascii() else ""  # 转化 O/E 下限, as 删除 O/E 下限; 回复率下限
                    names[col] = f"{names[base]}{gap}{zh}" if lang == "zh" else f"{names[base]}, {en}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    wb = xlsxwriter.Workbook(str(path), options)
    head_fmt = wb.add_format({"bold": True, "bg_color": "#F2F4F7", "bottom": 1, "valign": "vcenter"})
    cell_fmts: dict[str, object] = {}

    def fmt(spec: str):
        if spec not in cell_fmts:
            cell_fmts[spec] = wb.add_format({"num_format": spec})
        return cell_fmts[spec]

    used: set[str] = set()
    for sheet, df in sheets.items():
        ws = wb.add_worksheet(_sheet_name(sheet, used))
        frame = _frame(df)
        kinds = _kinds(frame, id_columns, formats)
        cols = list(frame.columns)
        titles = [str(names.get(c, c)) for c in cols]
        widths = [display_width(t) + 2 for t in titles]  # + room for the filter button
        kind_of = [kinds[c] if kinds[c] in NUMBER_FORMATS else "number" for c in cols]
        formats_of = [fmt(NUMBER_FORMATS.get(kinds[c], kinds[c])) for c in cols]
        for j, title in enumerate(titles):
            ws.write_string(0, j, title, head_fmt)
        unmeasured = {j for j, c in enumerate(cols) if len(frame) and frame[c].isna().all()}
        for j in unmeasured:
            widths[j] = max(widths[j], display_width(NOT_MEASURED[lang]))
        n = 0
        for i, rec in enumerate(frame.itertuples(index=False, name=None), start=1):
            n = i
            for j, v in enumerate(rec):
                value = NOT_MEASURED[lang] if j in unmeasured else _cell_value(v, kind_of[j], lang)
                if value is None:
                    continue
                if i <= 2000:  # widths from the first 2,000 rows
                    widths[j] = max(widths[j], display_width(_shown(value, kind_of[j])))
                if isinstance(value, str):
                    ws.write_string(i, j, value, formats_of[j])
                elif isinstance(value, datetime):
                    ws.write_datetime(i, j, value, formats_of[j])
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    if np.isfinite(value):
                        ws.write_number(i, j, value, formats_of[j])
                else:
                    ws.write_string(i, j, str(value), formats_of[j])
        for j, w in enumerate(widths):
            ws.set_column(j, j, min(max_width, max(6, w) + 1.5))
        ws.freeze_panes(1, 0)
        if cols:
            ws.autofilter(0, 0, max(n, 1), len(cols) - 1)
            text_cols = [xl_col_to_name(j) for j, k in enumerate(kind_of) if k in ("id", "text")]
            if text_cols and n:
                ws.ignore_errors({"number_stored_as_text": " ".join(f"{c}2:{c}{n + 1}" for c in text_cols)})
    if not used:
        wb.add_worksheet("Sheet1")
    wb.close()
    return path


#: Sheets of a run's workbook: CSV stem in ``exports/`` → sheet name per language, in this order (to move into
#: ``helpers.labels``); other CSVs in ``exports/`` follow under their own names.
REPORT_SHEETS: dict[str, dict[str, str]] = {
    "contact_list": {"zh": "联系名单", "en": "Contact list"},
    "staff": {"zh": "员工", "en": "Staff"},
    "channels": {"zh": "渠道", "en": "Channels"},
    "tiers": {"zh": "用户分层", "en": "Tiers"},
    "leave_alone": {"zh": "暂不打扰", "en": "Leave alone"},
    "staff_scorecard": {"zh": "员工绩效", "en": "Staff scorecard"},
}


def read_csv_ids_as_text(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv` (BOM or not) with every id column as text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_csv(pd.DataFrame({"user_id": ["00009325"], "n": [1]}), pathlib.Path(tempfile.mkdtemp()) / "a.csv")
    >>> read_csv_ids_as_text(p)["user_id"].tolist()
    ['00009325']
    """
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    ids = {c: "string" for c in header if _ID_NAME.search(str(c))}
    return pd.read_csv(path, dtype=ids, encoding="utf-8-sig", keep_default_na=True)


#: Columns of an export kept for other systems (codes a CRM import matches on), left out of the staff workbook: its
#: sheets carry the same facts in words (``action`` beside ``action_key``).
MACHINE_COLUMNS: dict[str, tuple[str, ...]] = {"contact_list": ("action_key", "score_kind")}
#: Columns holding bilingual labels ("高价值 high value", as the notebooks key them): a sheet keeps the report
#: language's half.
LABEL_COLUMNS: tuple[str, ...] = ("tier", "rfm_class")
#: Rows above which an export stays a CSV only: a sheet that size is not read by a person, and writing it would
#: cost the report minutes (about 10 s per 100,000 rows of ten columns); Excel itself stops at 1,048,576 rows.
WORKBOOK_MAX_ROWS = 200_000
_LEFT_OUT = {
    "zh": {"sheet": "说明", "columns": ["表格", "行数", "文件", "说明"], "why": "行数超过 {n:,}，只导出 CSV"},
    "en": {"sheet": "About", "columns": ["table", "rows", "file", "note"], "why": "more than {n:,} rows: CSV only"},
}
#: Name of the first sheet that lists the exports too large for a sheet, per language.
LEFT_OUT_SHEET: dict[str, str] = {lang: v["sheet"] for lang, v in _LEFT_OUT.items()}


def _csv_rows(path: Path) -> int:
    """Count the data rows of a CSV (the first column is parsed, so a quoted line break is not a row)."""
    return sum(len(chunk) for chunk in pd.read_csv(path, usecols=[0], dtype=str, chunksize=500_000))


def write_report_workbook(
    report_dir: str | Path, *, lang: str = "zh", name: str = "workbook", max_rows: int = WORKBOOK_MAX_ROWS
) -> Path | None:
    """Gather a run's ``exports/*.csv`` into one workbook for staff (``exports/workbook.xlsx``).

    Known exports come first, in the order of :data:`REPORT_SHEETS` (contact list, staff, channels, tiers), each
    under its sheet name in ``lang``; any other CSV follows under its file name. Columns of
    :data:`MACHINE_COLUMNS` stay in the CSV only; labels of :data:`LABEL_COLUMNS` keep the report language's half.
    An export of more than ``max_rows`` rows is not put in a sheet (never cut: a partial list would read as the
    whole one); a first sheet then names it, its rows and its CSV. Where the team's names file (the run's
    ``names.csv``) names a staff member, the sheets show that name instead of the pseudonym; the CSVs keep it.

    Parameters
    ----------
    report_dir : str or Path
        The run folder.
    lang : {"zh", "en"}
        Language of sheet names, headers and yes/no.
    name : str
        Workbook file name without extension.
    max_rows : int
        Largest export put in a sheet.

    Returns
    -------
    Path or None
        The workbook, or ``None`` when the run exported nothing.
    """
    from helpers.labels import Labels, bilingual_part, run_names

    report_dir = Path(report_dir)
    names = run_names(report_dir)  # the team's names file as 00 kept it: staff codes already pseudonyms
    L = Labels(lang, names)
    files = {p.stem: p for p in sorted((report_dir / "exports").glob("*.csv"))}
    if not files:
        return None
    order = [s for s in REPORT_SHEETS if s in files] + [s for s in files if s not in REPORT_SHEETS]
    sheets, left_out = {}, []
    for stem in order:
        title = REPORT_SHEETS.get(stem, {}).get(lang, stem)
        rows = _csv_rows(files[stem])
        if rows > max_rows:
            left_out.append([title, rows, f"exports/{files[stem].name}", _LEFT_OUT[lang]["why"].format(n=max_rows)])
            continue
        frame = read_csv_ids_as_text(files[stem])
        for c in (c for c in LABEL_COLUMNS if c in frame.columns):
            frame[c] = frame[c].map(lambda v: bilingual_part(v, lang), na_action="ignore")
        if names.get("staff") and "staff_id" in frame.columns:  # a member finds their own rows by the name given
            frame["staff_id"] = frame["staff_id"].map(lambda v: L.name("staff", v), na_action="ignore")
        sheets[title] = frame.drop(columns=[c for c in MACHINE_COLUMNS.get(stem, ()) if c in frame.columns])
    if left_out:
        about = pd.DataFrame(left_out, columns=_LEFT_OUT[lang]["columns"])
        sheets = {_LEFT_OUT[lang]["sheet"]: about, **sheets}
    return write_workbook(report_dir / "exports" / f"{name}.xlsx", sheets, lang=lang)
