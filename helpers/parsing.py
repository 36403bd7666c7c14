"""Vectorised parsers for the messy values of Chinese exports: ids, money, timestamps, enums, text labels.

Every ``parse_*`` function returns ``(values, bad)``: the parsed Series and a boolean mask of cells that were not
empty but could not be parsed. :func:`parse_column` returns the same values with the reason of every problem
(:class:`Parsed`), which the loader writes to the quarantine. No parser raises on a cell value, and no message or
warning quotes one.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ID_MAX_CHARS",
    "TEXT_MAX_CHARS",
    "Parsed",
    "parse_amount",
    "parse_column",
    "parse_enum",
    "parse_id",
    "parse_text",
    "parse_timestamp",
    "serial_dates_likely",
]

_MISSING = {"", "nan", "none", "null", "nat", "n/a", "na", "-", "--", "—", "无"}
#: Ids longer than this are quarantined (WeCom ids have 32 characters; a longer one is a broken cell).
ID_MAX_CHARS = 128
#: Text labels (channel, campaign name, …) longer than this are cut to it, with an ellipsis and a load note.
TEXT_MAX_CHARS = 100

# reasons (the quarantine's words)
SCIENTIFIC = "id in scientific notation (digits lost in Excel)"
ID_TOO_LONG = f"id longer than {ID_MAX_CHARS} characters"
BAD_TIMESTAMP = "unparseable timestamp"
NOT_A_DATE = "number that is not a date"
TIME_ONLY = "time without a date"
PLACEHOLDER = "placeholder date"
BAD_AMOUNT = "unparseable amount"
FOREIGN = "foreign currency (amounts must be CNY)"
NOT_FINITE = "amount is not a finite number"
#: Amounts from this size up are not money but an id or a phone number in the amount column.
AMOUNT_LIMIT = 1e9
TOO_LARGE = "implausible amount (1,000,000,000 CNY or more: an id or phone number in the amount column?)"
UNKNOWN = "unknown value"


@dataclass
class Parsed:
    """One parsed column.

    Attributes
    ----------
    values : Series
        Parsed values (NaN / NaT where empty or a problem).
    problems : dict
        Reason -> boolean Series of the cells with that problem (a cell has at most one).
    changed_cells : dict
        What was changed but kept (``truncated`` …), as boolean Series of the cells changed, for the load notes.
    arrow : pyarrow Array, optional
        Normalised text of the cells (ids and text), for further vectorised checks.
    """

    values: pd.Series
    problems: dict[str, pd.Series] = field(default_factory=dict)
    changed_cells: dict[str, pd.Series] = field(default_factory=dict)
    arrow: pa.Array | pa.ChunkedArray | None = None

    @property
    def changed(self) -> dict[str, int]:
        """What was changed but kept, with counts."""
        return {k: int(m.sum()) for k, m in self.changed_cells.items()}

    @property
    def bad(self) -> pd.Series:
        """Cells with any problem."""
        bad = pd.Series(False, index=self.values.index)
        for m in self.problems.values():
            bad |= m
        return bad


def _mask(arr: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """Return an Arrow boolean array as a bool Series (null -> False)."""
    return pd.Series(np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool), index=index)


def _as_text(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Cells as an Arrow string array (numbers and dates from Excel become their ``str``); missing -> null."""
    if isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_string(s.dtype.pyarrow_dtype):
        return pa.array(s.array)
    obj = s.astype("object").to_numpy()
    try:
        return pa.array(obj, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        conv = pd.Series(obj).map(lambda v: v if isinstance(v, str) else str(v), na_action="ignore")
        return pa.array(conv.to_numpy(), type=pa.string(), from_pandas=True)


def _nfkc_arrow(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    """NFKC-normalise (full-width digits, ￥, ，, （） to ASCII) and trim, vectorised; missing markers -> null."""
    arr = pc.utf8_trim_whitespace(pc.utf8_normalize(_as_text(s), "NFKC"))
    missing = pc.is_in(pc.utf8_lower(arr), value_set=pa.array(sorted(_MISSING)))
    return pc.if_else(missing, pa.scalar(None, pa.string()), arr)


def _to_series(arr: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """Return an Arrow string array as an object Series (NaN for missing)."""
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    if arr.null_count:  # Arrow's validity says which cells are missing: no scan of every Python string for None
        values[np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
    return pd.Series(values, index=index, dtype="object")


def _nfkc(s: pd.Series) -> pd.Series:
    """Apply NFKC (full-width digits, ￥, ，, （） to ASCII) and trim; missing markers become NA."""
    return _to_series(_nfkc_arrow(s), s.index)


# ------------------------------------------------------------------------------------------------------- text
def _parse_text(s: pd.Series, max_chars: int | None = TEXT_MAX_CHARS) -> Parsed:
    arr = _nfkc_arrow(s)
    cells = {}
    if max_chars is not None:
        long = pc.fill_null(pc.greater(pc.utf8_length(arr), max_chars), False)
        if pc.any(long).as_py():
            cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, max_chars - 1), pa.scalar("…"), "")
            arr = pc.if_else(long, cut, arr)
            cells["truncated"] = _mask(long, s.index)
    return Parsed(_to_series(arr, s.index).astype("object"), arrow=arr, changed_cells=cells)


def parse_text(s: pd.Series, max_chars: int | None = TEXT_MAX_CHARS) -> tuple[pd.Series, pd.Series]:
    """Trim free-text labels (NFKC-normalised); cut labels longer than ``max_chars`` (ending them with ``…``).

    Examples
    --------
    >>> parse_text(pd.Series([" 门店二维码 ", None]))[0].tolist()
    ['门店二维码', nan]
    >>> len(parse_text(pd.Series(["渠" * 500]))[0].iloc[0])
    100
    """
    p = _parse_text(s, max_chars)
    return p.values, p.bad


# -------------------------------------------------------------------------------------------------------- ids
_SCI = re.compile(r"^[+-]?\d+(\.\d+)?e[+-]?\d+$", re.IGNORECASE)
_INT_FLOAT = re.compile(r"^(\d+)\.0+$")


def _parse_id(s: pd.Series) -> Parsed:
    if pd.api.types.is_integer_dtype(s.dtype):
        v = s.astype("Int64").astype("string").astype("object").where(s.notna())
        return Parsed(v, arrow=pa.array(v.to_numpy(), type=pa.string(), from_pandas=True))
    arr = pc.replace_substring_regex(_nfkc_arrow(s), _INT_FLOAT.pattern, r"\1")
    sci = _mask(pc.match_substring_regex(arr, _SCI.pattern, ignore_case=True), s.index)
    long = _mask(pc.greater(pc.utf8_length(arr), ID_MAX_CHARS), s.index)
    problems = {k: m for k, m in ((SCIENTIFIC, sci), (ID_TOO_LONG, long & ~sci)) if m.any()}
    v = _to_series(arr, s.index)
    if problems:
        v = v.mask(sci | long)
    return Parsed(v, problems, arrow=arr)


def parse_id(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse identifiers as strings, keeping leading zeros.

    Integers read as floats (``123.0``) become ``"123"``; ids that Excel turned into scientific notation
    (``1.23E+17``) have lost digits and are flagged as bad, as are ids longer than :data:`ID_MAX_CHARS`.

    Examples
    --------
    >>> v, bad = parse_id(pd.Series(["007", 12.0, "1.23E+17", None]))
    >>> v.tolist()[:2], bad.tolist()
    (['007', '12'], [False, False, True, False])
    """
    p = _parse_id(s)
    return p.values, p.bad


# ------------------------------------------------------------------------------------------------------ money
_FOREIGN_RE = r"(?i)(us\$|hk\$|nt\$|a\$|c\$|s\$|\$|usd|hkd|eur|gbp|jpy|€|£|美元|美金|港币|港元|欧元|英镑|日元|円)"
_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_EURO_RE = r"^[+-]?\d{1,3}(\.\d{3})*,\d{1,2}$"  # 1.299,00 and 12,50: comma as the decimal mark
_THOUSANDS_RE = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"  # 1,299.00


def _parse_amount(s: pd.Series) -> Parsed:
    idx = s.index
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        v = pd.to_numeric(s, errors="coerce").astype("float64")
        inf = pd.Series(np.isinf(v.to_numpy()), index=idx)
        big = ~inf & (v.abs() >= AMOUNT_LIMIT)
        problems = {k: m for k, m in ((NOT_FINITE, inf), (TOO_LARGE, big)) if m.any()}
        return Parsed(v.mask(inf | big).round(2), problems)
    arr = _nfkc_arrow(s)
    present = _mask(pc.is_valid(arr), idx)
    foreign = pc.fill_null(pc.match_substring_regex(arr, _FOREIGN_RE), False)
    t = pc.utf8_lower(arr)
    t = pc.replace_substring_regex(t, r"(人民币|rmb|cny|元|¥|\s)", "")
    neg = pc.fill_null(pc.match_substring_regex(t, r"^\(.*\)$"), False)
    t = pc.replace_substring_regex(t, r"^\((.*)\)$", r"\1")
    wan = pc.fill_null(pc.ends_with(t, "万"), False)
    t = pc.replace_substring_regex(t, r"万$", "")
    comma = pc.fill_null(pc.match_substring(t, ","), False)
    if pc.any(comma).as_py():
        euro = pc.fill_null(pc.match_substring_regex(t, _EURO_RE), False)
        eng = pc.fill_null(pc.match_substring_regex(t, _THOUSANDS_RE), False)
        as_euro = pc.replace_substring(pc.replace_substring(t, ".", ""), ",", ".")
        t = pc.if_else(euro, as_euro, pc.if_else(eng, pc.replace_substring(t, ",", ""), t))
    ok = pc.fill_null(pc.match_substring_regex(t, _NUMBER_RE), False)
    num = pc.cast(pc.if_else(ok, t, pa.scalar(None, pa.string())), pa.float64())
    v = pd.Series(np.asarray(pc.fill_null(num, np.nan).to_numpy(zero_copy_only=False), dtype="float64"), index=idx)
    v = v.where(~_mask(wan, idx), v * 10_000).where(~_mask(neg, idx), -v)
    inf = pd.Series(np.isinf(v.to_numpy()), index=idx) | _mask(
        pc.match_substring_regex(t, r"^[+-]?(inf|infinity|nan)$"), idx
    )
    foreign_m = _mask(foreign, idx) & present
    big = ~inf & ~foreign_m & (v.abs() >= AMOUNT_LIMIT)
    problems = {
        FOREIGN: foreign_m,
        NOT_FINITE: inf & ~foreign_m,
        TOO_LARGE: big,
        BAD_AMOUNT: present & v.isna() & ~inf & ~foreign_m,
    }
    problems = {k: m for k, m in problems.items() if m.any()}
    bad = pd.Series(False, index=idx)
    for m in problems.values():
        bad |= m
    return Parsed(v.mask(bad).round(2), problems)


def parse_amount(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse money in CNY: ``¥1,299.00``, ``1299元``, ``１２９９``, ``1.2万``, ``(35.00)``, ``1.299,00``.

    A comma is a thousands separator before exactly three digits (``1,299.00``) and the decimal mark in the
    European form (``1.299,00``, ``12,50``); anything else with a comma is bad. Foreign currencies (``$100``,
    ``HK$``, ``€``, ``USD`` …) are bad, never read as CNY; so are ``inf`` and ``NaN``.

    Returns
    -------
    values : Series of float64
        Amounts rounded to the cent; NaN where empty or bad.
    bad : Series of bool
        Non-empty cells that are not a CNY amount.

    Examples
    --------
    >>> v, bad = parse_amount(pd.Series(["¥1,299.00", "１２９９元", "1.2万", "(35)", "¥1.299,00", "$100", "inf", None]))
    >>> v.tolist()[:5], bad.tolist()
    ([1299.0, 1299.0, 12000.0, -35.0, 1299.0], [False, False, False, False, False, True, True, False])
    """
    p = _parse_amount(s)
    return p.values, p.bad


# ------------------------------------------------------------------------------------------------- timestamps
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: Excel serial day numbers accepted as dates: 2000-01-01 .. 2099-12-31.
SERIAL_RANGE = (36526, 73051)
#: Unix times accepted (seconds; milliseconds are x 1000): 2000-01-01 .. 2099-12-31 UTC.
EPOCH_RANGE = (946_684_800, 4_102_444_800)
#: Timestamps before the first or from the second are placeholders ("never" / "unknown"), not events.
PLACEHOLDER_BEFORE = pd.Timestamp("1971-01-01")
PLACEHOLDER_FROM = pd.Timestamp("2099-12-31")

_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_DATE_DOTS = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})")
_TWO_DIGIT_YEAR = re.compile(r"^(\d{2})([-/.])(\d{1,2})\2(\d{1,2})(?=\D|$)")
_NUMBER = r"^[+-]?\d+(\.\d+)?$"
_TIME_ONLY = r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$"
#: Named zones read with a fixed offset. CST is China Standard Time (+08:00), as Chinese servers print it.
TZ_NAMES = {
    "UTC": "+00:00",
    "GMT": "+00:00",
    "UT": "+00:00",
    "CST": "+08:00",
    "BJT": "+08:00",
    "HKT": "+08:00",
    "SGT": "+08:00",
    "JST": "+09:00",
    "KST": "+09:00",
    "EST": "-05:00",
    "EDT": "-04:00",
    "CDT": "-05:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
    "CET": "+01:00",
    "CEST": "+02:00",
    "BST": "+01:00",
}
_TZ_NAME = re.compile(r"\s*(?<![A-Za-z])(UTC|GMT|UT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?(?![\d:])")
_ZONES = "|".join(sorted(TZ_NAMES, key=len, reverse=True))
_TZ_WORD = re.compile(r"\s*(?<![A-Za-z])(" + _ZONES + r")(?![A-Za-z])")
_TZ_WORD_ANY = re.compile(r"(?<![A-Za-z])(?:" + _ZONES + r")(?![A-Za-z])")
_BEIJING = re.compile(r"\s*[(（]?北京时间[)）]?\s*")
_HALF_DAY = re.compile(r"(上午|早上|早晨|凌晨|中午|下午|傍晚|晚上)\s*(\d{1,2})(:\d{2}(?::\d{2})?)?")
_HOUR_WORDS = [
    (re.compile(r"(\d{1,2})\s*[点點]\s*半"), r"\1:30"),
    (re.compile(r"(\d{1,2})\s*[点點]\s*(\d{1,2})\s*分?"), r"\1:\2"),
    (re.compile(r"(\d{1,2})\s*[点點]"), r"\1:00"),
]


def _half_day(m: re.Match[str]) -> str:
    """24-hour clock for 上午 / 凌晨 / 中午 / 下午 / 晚上 h (12 上午 and 12 凌晨 are midnight, 12 中午 / 下午 noon)."""
    word, h, rest = m.group(1), int(m.group(2)), m.group(3) or ":00"
    if word in ("上午", "早上", "早晨", "凌晨"):
        h = 0 if h == 12 else h
    elif word == "中午":
        h = h + 12 if h <= 3 else h
    elif word == "晚上" and h == 12:
        h = 0  # 晚上12点: the midnight that ends the evening (the next day is added by the caller)
    elif h < 12:
        h += 12
    return f"{h:02d}{rest}"


def _tz_offset(m: re.Match[str]) -> str:
    hh, mm = int(m.group(3)), int(m.group(4) or 0)
    return f"{m.group(2)}{hh:02d}:{mm:02d}"


def _normalise_date_text(v: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Rewrite Chinese and other spellings to ISO-like text; also return rows whose day moves on (晚上12点)."""
    t = v.astype("string")
    beijing = t.str.contains(_BEIJING, na=False)
    if beijing.any():
        t = t.str.replace(_BEIJING, " ", regex=True)
    t = t.str.replace("年", "-", regex=False).str.replace("月", "-", regex=False)
    t = t.str.replace(r"日\s*", " ", regex=True).str.replace("号", " ", regex=False)
    t = t.str.replace(r"(\d)时(\d)", r"\1:\2", regex=True).str.replace(r"(\d)分(\d)", r"\1:\2", regex=True)
    t = t.str.replace(r"[时分秒]", "", regex=True)
    t = t.str.replace(r"\s+", " ", regex=True).str.strip()
    t = t.str.replace(_DATE_DOTS, r"\1-\2-\3", regex=True)
    t = t.str.replace(_TWO_DIGIT_YEAR, r"20\1-\3-\4", regex=True)  # 25/1/5: year first, the Chinese convention
    next_day = t.str.contains(r"晚上\s*12(?!\d)", regex=True, na=False)
    if t.str.contains("[点點]", regex=True, na=False).any():
        for pat, repl in _HOUR_WORDS:
            t = t.str.replace(pat, repl, regex=True)
    t = t.str.replace(_HALF_DAY, _half_day, regex=True)
    # zones: GMT+8 means 8 hours ahead of UTC (not the POSIX sign), named zones get their fixed offset
    t = t.str.replace(_TZ_NAME, lambda m: " " + _tz_offset(m), regex=True)
    has_word = t.str.contains(_TZ_WORD_ANY, na=False)
    if has_word.any():
        off = t[has_word].str.extract(_TZ_WORD, expand=False).map(TZ_NAMES)
        t[has_word] = t[has_word].str.replace(_TZ_WORD, "", regex=True).str.strip() + off
    t = t.str.strip()
    t = t.where(~beijing | t.str.contains(_TZ_SUFFIX, na=False), t + "+08:00")
    t = t.str.replace(r"\s*([+-]\d{2}:?\d{2})$", r"\1", regex=True)
    return t.str.replace(r"\s+", " ", regex=True).str.strip(), next_day


def _to_datetime(t: pd.Series, utc: bool, fmt: str) -> pd.Series:
    """``pd.to_datetime`` that never raises or warns on a cell: falls back to one cell at a time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(t, errors="coerce", utc=utc, format=fmt)
        except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
            out = []
            for x in t:
                try:
                    out.append(pd.to_datetime(x, errors="coerce", utc=utc, format=fmt))
                except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
                    out.append(pd.NaT)
            res = pd.Series(out, index=t.index, dtype=object)
            if utc:
                return pd.to_datetime(res, errors="coerce", utc=True)
            aware = res.map(lambda x: isinstance(x, pd.Timestamp) and x.tzinfo is not None)
            return pd.to_datetime(res.where(~aware, pd.NaT), errors="coerce")


def _local(ts: pd.Series, tz: str) -> pd.Series:
    return ts.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[ns]")


def serial_dates_likely(s: pd.Series) -> bool:
    """Decide whether a column holds Excel serial dates: numbers in 2000–2099 or date cells in half its cells.

    A stray number among text dates is then never read as a date.

    Examples
    --------
    >>> serial_dates_likely(pd.Series(["45296", "45297.5", None])), serial_dates_likely(pd.Series(["2025", "x"]))
    (True, False)
    >>> serial_dates_likely(pd.Series(["2025-01-05", "2025-01-06", "45663"]))
    False
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return False
    dated = 0
    if s.dtype == object:
        is_date = s.map(lambda x: hasattr(x, "year") and not isinstance(x, str)).astype(bool)
        dated = int(is_date.sum())
        if dated:
            s = s[~is_date]
    arr = _nfkc_arrow(s)
    n = (pc.count(arr).as_py() or 0) + dated
    if not n:
        return False
    num = pc.cast(pc.if_else(pc.fill_null(pc.match_substring_regex(arr, _NUMBER), False), arr, None), pa.float64())
    inside = pc.and_(pc.greater_equal(num, SERIAL_RANGE[0]), pc.less(num, SERIAL_RANGE[1]))
    return (pc.sum(pc.fill_null(inside, False)).as_py() or 0) + dated >= 0.5 * n


_ISO_PADDED = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
_YMD = (
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)


def _ints(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Digits (``""`` for an optional group that did not match) as int64, 0 where empty."""
    empty = pc.equal(arr, "")
    return np.asarray(pc.fill_null(pc.cast(pc.if_else(empty, None, arr), pa.int64()), 0).to_numpy(zero_copy_only=False))


def _fast_timestamps(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse the usual spellings (``2025-01-05 10:00:00``, ``2025/1/5 10:00``, ``2025.1.5``) without pandas.

    Returns datetime64[ns] values (NaT elsewhere), the cells that have one of these shapes, those whose year is a
    placeholder beyond what pandas holds (9999-12-31), and those that are no calendar date (2025-02-30).
    """
    n = len(arr)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    matched = np.zeros(n, dtype=bool)
    far = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    padded = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _ISO_PADDED), False).to_numpy(zero_copy_only=False))
    if padded.any():  # the commonest spelling: Arrow's strptime, then a check that the day did not roll over
        ts = pc.strptime(arr, "%Y-%m-%d %H:%M:%S", "s", error_is_null=True)
        day = _ints(pc.utf8_slice_codeunits(arr, 8, 10))
        year = np.asarray(pc.fill_null(pc.year(ts), 2000).to_numpy(zero_copy_only=False))
        got = np.asarray(pc.fill_null(pc.day(ts), 0).to_numpy(zero_copy_only=False))
        sec = np.asarray(pc.fill_null(pc.cast(ts, pa.int64()), 0).to_numpy(zero_copy_only=False))
        ok = padded & (got == day) & np.asarray(pc.is_valid(ts).to_numpy(zero_copy_only=False))
        f = ok & ((year < 1678) | (year > 2261))
        good = ok & ~f
        out[good] = sec[good].astype("datetime64[s]")
        matched |= padded
        far |= f
        invalid |= padded & ~ok
    rest = ~padded
    if rest.any():
        sub = arr.filter(pa.array(rest)) if padded.any() else arr
        st = pc.extract_regex(sub, _YMD)
        hit = np.asarray(pc.is_valid(st).to_numpy(zero_copy_only=False))
        if hit.any():
            y, m, d, hh, mi, ss = (_ints(pc.struct_field(st, k)) for k in "ymdHMS")
            with np.errstate(all="ignore"):
                months = (y - 1970) * 12 + (m - 1)
                first = months.astype("datetime64[M]")
                days = first.astype("datetime64[D]") + (d - 1)
                ok = hit & (m >= 1) & (m <= 12) & (d >= 1) & (days.astype("datetime64[M]") == first)
                ok &= (hh < 24) & (mi < 60) & (ss < 60)
                f = ok & ((y < 1678) | (y > 2261))
                good = ok & ~f
                secs = days.astype("datetime64[s]") + (hh * 3600 + mi * 60 + ss)
            pos = np.flatnonzero(rest)
            out[pos[good]] = secs[good]
            matched[pos[hit]] = True
            far[pos[f]] = True
            invalid[pos[hit & ~ok]] = True
    return out, matched, far, invalid


def _parse_numbers(n: pd.Series, txt: pd.Series, tz: str, serials: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Dates from numbers: compact YYYYMMDD[hhmm[ss]], Excel serials (if the column holds them), Unix s / ms."""
    res = pd.Series(pd.NaT, index=n.index, dtype="datetime64[ns]")
    digits = txt.str.len().where(txt.str.fullmatch(r"\d+"), 0)
    for width, fmt in ((8, "%Y%m%d"), (12, "%Y%m%d%H%M"), (14, "%Y%m%d%H%M%S")):
        m = digits == width
        if m.any():
            res[m] = _to_datetime(txt[m], utc=False, fmt=fmt)
    done = res.notna() | digits.isin([8, 12, 14])
    if serials:
        m = ~done & (n >= SERIAL_RANGE[0]) & (n < SERIAL_RANGE[1])
        if m.any():
            res[m] = EXCEL_EPOCH + pd.to_timedelta(n[m], unit="D")
            done |= m
    for scale, unit in ((1, "s"), (1000, "ms")):
        m = ~done & (n >= EPOCH_RANGE[0] * scale) & (n < EPOCH_RANGE[1] * scale)
        if m.any():
            res[m] = _local(pd.to_datetime(n[m], unit=unit, utc=True), tz)
            done |= m
    zero = ~done & (n == 0)  # Unix 0: "never" in WeCom exports
    return res.dt.round("s"), zero, ~done & ~zero


def _parse_timestamp(s: pd.Series, tz: str = "Asia/Shanghai", serials: bool | None = None) -> Parsed:
    idx = s.index
    problems: dict[str, pd.Series] = {}
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        # a unit coarser than ns (Parquet) may hold 9999-12-31, which nanoseconds cannot: a placeholder
        naive = s.dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
        vals = naive.to_numpy()
        far = (
            pd.Series((vals < np.datetime64("1678-01-01")) | (vals > np.datetime64("2261-12-31")), index=idx)
            & s.notna()
        )
        if far.any():
            s = s.mask(far)
            problems[PLACEHOLDER] = far
        out = _local(s, tz) if isinstance(s.dtype, pd.DatetimeTZDtype) else s.astype("datetime64[ns]")
    else:
        out, problems = _parse_timestamp_cells(s, tz, serials)
    ph = out.notna() & ((out < PLACEHOLDER_BEFORE) | (out >= PLACEHOLDER_FROM))
    if ph.any():
        out = out.mask(ph)
        problems[PLACEHOLDER] = problems.get(PLACEHOLDER, pd.Series(False, index=idx)) | ph
    return Parsed(out, {k: m for k, m in problems.items() if m.any()})


def _parse_timestamp_cells(s: pd.Series, tz: str, serials: bool | None) -> tuple[pd.Series, dict]:
    """Parse a column of cells (objects or text): datetime objects, fast ISO text, numbers, then other date text.

    Each step fills ``out`` for the cells it reads and ORs its cells into ``problems``; a cell flagged as not a
    date, a time only or a placeholder is left empty, and a cell present but not parsed is a bad timestamp.
    """
    idx = s.index
    out = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    f = pd.Series(False, index=idx)
    problems = {BAD_TIMESTAMP: f.copy(), NOT_A_DATE: f.copy(), TIME_ONLY: f.copy(), PLACEHOLDER: f.copy()}
    obj = s.astype("object")
    is_ts = _datetime_objects(s, obj, out, problems, tz)
    rest = obj[~is_ts]
    txt, arr, invalid = _text_cells(rest, out, problems)
    present = txt.notna()
    isnum = _mask(pc.match_substring_regex(arr, _NUMBER), rest.index)
    if isnum.any():
        n = pd.to_numeric(txt[isnum], errors="coerce")
        res, zero, not_date = _parse_numbers(
            n, txt[isnum], tz, serial_dates_likely(rest) if serials is None else serials
        )
        out[res.index] = res
        problems[PLACEHOLDER] |= zero.reindex(idx, fill_value=False)
        problems[NOT_A_DATE] |= not_date.reindex(idx, fill_value=False)
    strs = txt[present & ~isnum]
    if len(strs):
        _date_text(strs, out, problems, tz)
    flagged = problems[NOT_A_DATE] | problems[TIME_ONLY] | problems[PLACEHOLDER]
    out = out.mask(flagged)
    unparsed = pd.Series(False, index=idx)
    unparsed[rest.index] = ((present | pd.Series(invalid, index=rest.index)) & out[rest.index].isna()).to_numpy()
    problems[BAD_TIMESTAMP] = (unparsed | (is_ts & out.isna())) & ~flagged
    return out, problems


def _datetime_objects(s: pd.Series, obj: pd.Series, out: pd.Series, problems: dict, tz: str) -> pd.Series:
    """Read cells that are date or time objects (Excel, Python) into ``out``; return which cells were objects."""
    idx = s.index
    is_ts = pd.Series(False, index=idx)
    if s.dtype == object:  # Excel cells and Python objects; text-only columns skip the per-cell look
        try:
            pa.array(obj.to_numpy(), type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            is_ts = obj.map(lambda x: hasattr(x, "isoformat") or isinstance(x, np.datetime64))
    if not is_ts.any():
        return is_ts
    cells = obj[is_ts]
    time_only = cells.map(lambda x: hasattr(x, "hour") and not hasattr(x, "year"))
    problems[TIME_ONLY] |= time_only.reindex(idx, fill_value=False)
    year = cells.map(lambda x: getattr(x, "year", 2000))
    far = ~time_only & ((year < 1678) | (year > 2261))
    problems[PLACEHOLDER] |= far.reindex(idx, fill_value=False)
    ok = cells[~time_only & ~far]
    if len(ok):
        aware = ok.map(lambda x: getattr(x, "tzinfo", None) is not None)
        if aware.any():
            out[ok[aware].index] = _local(_to_datetime(ok[aware], utc=True, fmt="mixed"), tz)
        if (~aware).any():
            out[ok[~aware].index] = _to_datetime(ok[~aware].map(pd.Timestamp), utc=False, fmt="mixed")
    return is_ts


def _text_cells(rest: pd.Series, out: pd.Series, problems: dict) -> tuple[pd.Series, pa.Array, np.ndarray]:
    """Read ISO-like text on the fast Arrow path into ``out``; return the cells it did not read (text and Arrow).

    Also returns which cells the fast path found invalid (a date-shaped text that is no date).
    """
    arr = _nfkc_arrow(rest)
    present_np = np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False))
    fast, matched, far_fast, invalid = _fast_timestamps(arr)
    out[rest.index] = fast
    problems[PLACEHOLDER] |= pd.Series(far_fast, index=rest.index).reindex(out.index, fill_value=False)
    slow = present_np & ~matched
    if slow.all():
        return _to_series(arr, rest.index), arr, invalid
    # only the cells the fast path did not read go through pandas
    txt = pd.Series(np.nan, index=rest.index, dtype=object)
    if slow.any():
        txt[slow] = _to_series(arr.filter(pa.array(slow)), rest.index[slow]).to_numpy()
    return txt, pa.array(txt.to_numpy(), type=pa.string(), from_pandas=True), invalid


def _date_text(strs: pd.Series, out: pd.Series, problems: dict, tz: str) -> None:
    """Read other date text (Chinese dates, slashes, zones, two-digit years) into ``out``; flag times, placeholders."""
    idx = out.index
    t, next_day = _normalise_date_text(strs)
    time_only = t.str.fullmatch(_TIME_ONLY, na=False)
    problems[TIME_ONLY] |= time_only.reindex(idx, fill_value=False).astype(bool)
    year = pd.to_numeric(t.str.extract(r"^(\d{4})-\d{1,2}-\d{1,2}", expand=False), errors="coerce")
    far = ((year < 1678) | (year > 2261)).fillna(False).astype(bool)
    problems[PLACEHOLDER] |= far.reindex(idx, fill_value=False)
    no_year = ~t.str.contains(r"\d{4}", regex=True, na=False)  # "1/5", "March": no year, no date
    t = t[~time_only & ~far & ~no_year]
    aware = t.str.contains(_TZ_SUFFIX, na=False)
    if aware.any():
        conv = _to_datetime(t[aware], utc=True, fmt="ISO8601")
        miss = conv.isna()
        if miss.any():  # e.g. Java's "Sat Feb 01 10:00:00 2025" + offset: a space before the offset
            spaced = t[aware][miss].str.replace(r"([+-]\d{2}:?\d{2})$", r" \1", regex=True)
            conv[miss] = _to_datetime(spaced, utc=True, fmt="mixed")
        out[conv.index] = _local(conv, tz)
    naive = t[~aware]
    if len(naive):
        parsed = _to_datetime(naive, utc=False, fmt="ISO8601")
        miss = parsed.isna()
        if miss.any():
            parsed[miss] = _to_datetime(naive[miss], utc=False, fmt="mixed")
        out[parsed.index] = parsed
    nd = next_day[next_day].index
    if len(nd):
        out[nd] = out[nd] + pd.Timedelta(days=1)


def parse_timestamp(
    s: pd.Series, tz: str = "Asia/Shanghai", serials: bool | None = None
) -> tuple[pd.Series, pd.Series]:
    """Parse timestamps into naive local time of ``tz``.

    Accepts datetimes (tz-aware ones are converted), ISO strings, ``2024/1/5 13:00``, ``2024年1月5日 下午1:00``,
    ``2024.01.05``, two-digit years read year first (``25/1/5`` = 2025-01-05), ``20250105`` and
    ``20250105103000``, zones as offsets, ``UTC`` / ``GMT+8`` (8 hours ahead of UTC) or names (``EST``; ``CST`` =
    China Standard Time), Excel serial days in 2000–2099 when the column mostly holds them (``serials``: ``None``
    decides from ``s``), and Unix seconds or milliseconds (UTC) in 2000–2099. Other numbers (``2025``, a phone
    number) are bad, as are a time without a date and placeholder dates (before 1971 or from 2099-12-31, such as
    1970-01-01 and 9999-12-31); use :func:`parse_column` for the reason of each.

    Examples
    --------
    >>> v, bad = parse_timestamp(pd.Series(["2024/1/5 13:00", "2024年1月5日", "2024-01-05T05:00:00Z", "25/1/5", "x"]))
    >>> [str(x) for x in v], bad.tolist()
    (['2024-01-05 13:00:00', '2024-01-05 00:00:00', '2024-01-05 13:00:00', '2025-01-05 00:00:00', 'NaT'], \
[False, False, False, False, True])
    >>> [str(x) for x in parse_timestamp(pd.Series([45296.5, 45297]))[0]]  # a column of Excel serial days
    ['2024-01-05 12:00:00', '2024-01-06 00:00:00']
    """
    p = _parse_timestamp(s, tz, serials)
    return p.values, p.bad


# ------------------------------------------------------------------------------------------------------ enums
def _parse_enum(s: pd.Series, aliases: dict[str, str]) -> Parsed:
    arr = _nfkc_arrow(s)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    # an enum column holds a handful of spellings: map each distinct one once, then take by code
    codes = pc.dictionary_encode(pc.replace_substring_regex(pc.utf8_lower(arr), r"\s+", "_"))
    spellings = codes.dictionary.to_pylist()
    mapped = np.array([aliases.get(k, np.nan) for k in spellings] + [np.nan], dtype=object)
    idx = codes.indices.fill_null(len(spellings)).to_numpy(zero_copy_only=False)
    v = pd.Series(mapped[idx], index=s.index, dtype="object")
    bad = _mask(pc.is_valid(arr), s.index) & v.isna()
    return Parsed(v, {UNKNOWN: bad.astype(bool)} if bad.any() else {})


def parse_enum(s: pd.Series, aliases: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map accepted spellings to canonical enum values; anything else is bad.

    Examples
    --------
    >>> v, bad = parse_enum(pd.Series(["已退款", "PAID", "已取消"]), {"paid": "paid", "已退款": "refunded"})
    >>> v.tolist()[:2], bad.tolist()
    (['refunded', 'paid'], [False, False, True])
    """
    p = _parse_enum(s, aliases)
    return p.values, p.bad


def parse_column(
    kind: str,
    s: pd.Series,
    *,
    tz: str = "Asia/Shanghai",
    aliases: dict[str, str] | None = None,
    serials: bool | None = None,
    max_chars: int | None = TEXT_MAX_CHARS,
) -> Parsed:
    """Parse one column of a contract kind, with the reason of every problem.

    Parameters
    ----------
    kind : {"id", "timestamp", "date", "money", "enum", "text"}
        The contract kind.
    s : Series
        Raw cells.
    tz : str
        Time zone of naive timestamps (``timestamp`` / ``date``).
    aliases : dict, optional
        Accepted spellings (``enum``).
    serials : bool, optional
        Whether numbers in a time column are Excel serial days (``None``: decided from ``s``).
    max_chars : int, optional
        Longest text label kept whole (``text``).

    Returns
    -------
    Parsed
        Values, problems by reason, counts of kept changes.

    Examples
    --------
    >>> p = parse_column("timestamp", pd.Series(["9999-12-31", "13812345678", "2025-01-05 10:00 GMT+8"]))
    >>> sorted(p.problems), str(p.values.iloc[2])
    (['number that is not a date', 'placeholder date'], '2025-01-05 10:00:00')
    """
    if kind == "id":
        return _parse_id(s)
    if kind in ("timestamp", "date"):
        p = _parse_timestamp(s, tz, serials)
        if kind == "date":
            p.values = p.values.dt.normalize()
        return p
    if kind == "money":
        return _parse_amount(s)
    if kind == "enum":
        return _parse_enum(s, aliases or {})
    if kind == "text":
        return _parse_text(s, max_chars)
    raise ValueError(f"unknown column kind {kind!r}")
