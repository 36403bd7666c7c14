"""Vectorised parsers for the messy values of Chinese exports: ids, money, timestamps, enums.

Every parser returns ``(values, bad)``: the parsed Series and a boolean mask of cells that were not empty
but could not be parsed, so the loader can quarantine those rows with the raw value as the reason.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["parse_amount", "parse_enum", "parse_id", "parse_text", "parse_timestamp"]

_MISSING = {"", "nan", "none", "null", "nat", "n/a", "na", "-", "--", "—", "无"}


def _as_text(s: pd.Series) -> pa.Array:
    """Cells as an Arrow string array (numbers and dates from Excel become their ``str``); missing -> null."""
    obj = s.astype("object").to_numpy()
    try:
        return pa.array(obj, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        conv = pd.Series(obj).map(lambda v: v if isinstance(v, str) else str(v), na_action="ignore")
        return pa.array(conv.to_numpy(), type=pa.string(), from_pandas=True)


def _nfkc_arrow(s: pd.Series) -> pa.Array:
    """NFKC-normalise (full-width digits, ￥, ，, （） to ASCII) and trim, vectorised; missing markers -> null."""
    arr = pc.utf8_trim_whitespace(pc.utf8_normalize(_as_text(s), "NFKC"))
    missing = pc.is_in(pc.utf8_lower(arr), value_set=pa.array(sorted(_MISSING)))
    return pc.if_else(missing, pa.scalar(None, pa.string()), arr)


def _to_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    """Return an Arrow string array as an object Series (NaN for missing)."""
    out = pd.Series(arr.to_numpy(zero_copy_only=False), index=index, dtype="object")
    return out.mask(out.isna())


def _nfkc(s: pd.Series) -> pd.Series:
    """Apply NFKC (full-width digits, ￥, ，, （） to ASCII) and trim; missing markers become NA."""
    return _to_series(_nfkc_arrow(s), s.index)


def parse_text(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Trim free-text labels (NFKC-normalised).

    Examples
    --------
    >>> parse_text(pd.Series([" 门店二维码 ", None]))[0].tolist()
    ['门店二维码', nan]
    """
    v = _nfkc(s)
    return v.astype("object"), pd.Series(False, index=s.index)


_SCI = re.compile(r"^[+-]?\d+(\.\d+)?e[+-]?\d+$", re.IGNORECASE)
_INT_FLOAT = re.compile(r"^(\d+)\.0+$")


def parse_id(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse identifiers as strings, keeping leading zeros.

    Integers read as floats (``123.0``) become ``"123"``; ids that Excel turned into scientific notation
    (``1.23E+17``) have lost digits and are flagged as bad.

    Examples
    --------
    >>> v, bad = parse_id(pd.Series(["007", 12.0, "1.23E+17", None]))
    >>> v.tolist()[:2], bad.tolist()
    (['007', '12'], [False, False, True, False])
    """
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.astype("Int64").astype("string").astype("object").where(s.notna()), pd.Series(False, index=s.index)
    arr = pc.replace_substring_regex(_nfkc_arrow(s), _INT_FLOAT.pattern, r"\1")
    bad = pd.Series(
        pc.fill_null(pc.match_substring_regex(arr, _SCI.pattern, ignore_case=True), False).to_numpy(
            zero_copy_only=False
        ),
        index=s.index,
    )
    return _to_series(arr, s.index).mask(bad), bad


_MONEY_TOKENS = re.compile(r"(人民币|rmb|cny|元|¥|\$|,|\s)", re.IGNORECASE)


def parse_amount(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse money in CNY: ``¥1,299.00``, ``1299元``, ``１２９９``, ``1.2万``, ``(35.00)``.

    Returns
    -------
    values : Series of float64
        Amounts rounded to the cent; NaN where empty or bad.
    bad : Series of bool
        Non-empty cells that are not a number.

    Examples
    --------
    >>> v, bad = parse_amount(pd.Series(["¥1,299.00", "１２９９元", "1.2万", "(35)", "abc", None]))
    >>> v.tolist()[:4], bad.tolist()
    ([1299.0, 1299.0, 12000.0, -35.0], [False, False, False, False, True, False])
    """
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = pd.to_numeric(s, errors="coerce").astype("float64")
        return v.round(2), pd.Series(False, index=s.index)
    raw = _nfkc(s)
    txt = raw.astype("string").str.replace(_MONEY_TOKENS, "", regex=True)
    neg = txt.str.match(r"^\(.*\)$", na=False)
    txt = txt.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    wan = txt.str.endswith("万", na=False)
    txt = txt.str.replace(r"万$", "", regex=True)
    v = pd.to_numeric(txt, errors="coerce").astype("float64")
    v = v.where(~wan, v * 10_000).where(~neg, -v)
    bad = raw.notna() & v.isna()
    return v.round(2), bad.astype(bool)


_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_DATE_DOTS = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})")
_PM = re.compile(r"(下午|晚上)\s*(\d{1,2})(:\d{2}(?::\d{2})?)?")
_AM = re.compile(r"(上午|早上|凌晨|中午)\s*")

EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _normalise_date_text(v: pd.Series) -> pd.Series:
    t = v.astype("string")
    t = t.str.replace("年", "-", regex=False).str.replace("月", "-", regex=False)
    t = t.str.replace(r"日\s*", " ", regex=True)
    t = t.str.replace(r"(\d)时(\d)", r"\1:\2", regex=True).str.replace(r"(\d)分(\d)", r"\1:\2", regex=True)
    t = t.str.replace(r"[时分秒]", "", regex=True)
    t = t.str.replace(_DATE_DOTS, r"\1-\2-\3", regex=True)

    def _pm(m: re.Match[str]) -> str:
        h = int(m.group(2))
        return f"{h + 12 if h < 12 else h}{m.group(3) or ':00'}"

    t = t.str.replace(_PM, _pm, regex=True).str.replace(_AM, "", regex=True)
    return t.str.replace(r"\s+", " ", regex=True).str.strip()


def parse_timestamp(s: pd.Series, tz: str = "Asia/Shanghai") -> tuple[pd.Series, pd.Series]:
    """Parse timestamps into naive local time of ``tz``.

    Accepts datetimes (tz-aware ones are converted), ISO strings, ``2024/1/5 13:00``, ``2024年1月5日 下午1:00``,
    ``2024.01.05``, Excel serial day numbers (1–99 999), and Unix epochs in seconds or milliseconds (UTC).

    Examples
    --------
    >>> v, bad = parse_timestamp(pd.Series(["2024/1/5 13:00", "2024年1月5日", 45296.5, "2024-01-05T05:00:00Z", "x"]))
    >>> [str(x) for x in v], bad.tolist()
    (['2024-01-05 13:00:00', '2024-01-05 00:00:00', '2024-01-05 12:00:00', '2024-01-05 13:00:00', 'NaT'], \
[False, False, False, False, True])
    """
    idx = s.index
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[ns]"), pd.Series(False, index=idx)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("datetime64[ns]"), pd.Series(False, index=idx)

    out = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    obj = s.astype("object")
    is_ts = obj.map(lambda x: isinstance(x, (pd.Timestamp, np.datetime64)) or hasattr(x, "isoformat"))
    if is_ts.any():
        conv = pd.to_datetime(obj[is_ts], errors="coerce", utc=False, format="mixed")
        if isinstance(conv.dtype, pd.DatetimeTZDtype):
            conv = conv.dt.tz_convert(tz).dt.tz_localize(None)
        out[is_ts] = conv
    rest = obj[~is_ts]
    txt = _nfkc(rest)
    present = txt.notna()
    num = pd.to_numeric(txt, errors="coerce")
    isnum = num.notna()
    if isnum.any():
        n = num[isnum]
        res = pd.Series(pd.NaT, index=n.index, dtype="datetime64[ns]")
        serial = (n >= 1) & (n < 100_000)
        res[serial] = EXCEL_EPOCH + pd.to_timedelta(n[serial], unit="D")
        for lo, hi, unit in ((1e9, 1e11, "s"), (1e11, 1e14, "ms")):
            m = (n >= lo) & (n < hi)
            if m.any():
                res[m] = pd.to_datetime(n[m], unit=unit, utc=True).dt.tz_convert(tz).dt.tz_localize(None)
        res = res.dt.round("s")
        out[res.index] = res
    strs = txt[present & ~isnum]
    if len(strs):
        t = _normalise_date_text(strs)
        aware = t.str.contains(_TZ_SUFFIX, na=False)
        if aware.any():
            conv = pd.to_datetime(t[aware], errors="coerce", utc=True, format="ISO8601")
            out[conv.index] = conv.dt.tz_convert(tz).dt.tz_localize(None)
        naive = t[~aware]
        parsed = pd.to_datetime(naive, errors="coerce", format="ISO8601")
        miss = parsed.isna() & naive.notna()
        if miss.any():
            parsed[miss] = pd.to_datetime(naive[miss], errors="coerce", format="mixed")
        out[parsed.index] = parsed
    bad = pd.Series(False, index=idx)
    bad[rest.index] = (present & out[rest.index].isna()).to_numpy()
    return out, bad.astype(bool)


def parse_enum(s: pd.Series, aliases: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map accepted spellings to canonical enum values; anything else is bad.

    Examples
    --------
    >>> v, bad = parse_enum(pd.Series(["已退款", "PAID", "已取消"]), {"paid": "paid", "已退款": "refunded"})
    >>> v.tolist()[:2], bad.tolist()
    (['refunded', 'paid'], [False, False, True])
    """
    arr = _nfkc_arrow(s)
    raw = _to_series(arr, s.index)
    key = _to_series(pc.replace_substring_regex(pc.utf8_lower(arr), r"\s+", "_"), s.index)
    v = key.map(aliases)
    bad = raw.notna() & v.isna()
    return v.astype("object"), bad.astype(bool)
