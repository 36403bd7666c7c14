"""Read one raw export file (CSV in any Chinese encoding, Excel, Parquet) into a frame of raw cells.

The reader does not interpret values: it finds the encoding, the delimiter and the header row (Excel exports
often carry a title row above the header), and records each row's source row number so quarantine reasons
can point at the exact line a user sees in Excel or a text editor.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from helpers.contract import normalize_column_name

__all__ = ["RawTable", "detect_encoding", "iter_raw", "read_raw", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet")
_SAMPLE_BYTES = 1 << 20
_HEADER_SCAN_ROWS = 15


@dataclass
class RawTable:
    """Raw cells of one file.

    Attributes
    ----------
    frame : DataFrame
        Cells as read (strings for text files; native types for Excel and Parquet), original headers.
    rows : Series
        Source row number of each record: the 1-based line / Excel row, or the record number for Parquet.
    path : Path
        File read.
    encoding : str or None
        Detected text encoding (CSV only).
    header_row : int
        1-based row holding the header (1 unless title rows were skipped).
    """

    frame: pd.DataFrame
    rows: pd.Series
    path: Path
    encoding: str | None
    header_row: int


def detect_encoding(sample: bytes) -> str:
    r"""Detect a text encoding: UTF-8 (with or without BOM) first, else charset-normalizer.

    GB2312 and GBK detections are widened to GB18030, their superset, so rare characters still decode.

    Parameters
    ----------
    sample : bytes
        The first bytes of the file (up to 1 MiB is used).

    Returns
    -------
    str
        A Python codec name.

    Examples
    --------
    >>> detect_encoding("用户ID,渠道\n1,门店".encode("gbk"))
    'gb18030'
    >>> detect_encoding(codecs.BOM_UTF8 + "a,b".encode())
    'utf-8-sig'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as err:
        # a multi-byte character cut at the end of the sample is not an error
        if err.start >= len(sample) - 3 and err.reason == "unexpected end of data":
            return "utf-8"
    # Chinese exports: GB18030 (superset of GB2312 / GBK) when it decodes to mostly Chinese text; statistical
    # detectors alone misread short GBK samples (e.g. as UTF-16)
    try:
        text = sample.decode("gb18030")
    except UnicodeDecodeError as err:
        text = sample[: err.start].decode("gb18030") if err.start >= len(sample) - 4 else ""
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if non_ascii and sum(_is_cjk(ch) for ch in non_ascii) >= 0.8 * len(non_ascii):
        return "gb18030"
    best = from_bytes(sample[:_SAMPLE_BYTES]).best()
    enc = (best.encoding if best else "gb18030").lower().replace("-", "_")
    if enc in {"gb2312", "gbk", "cp936", "hz", "gb18030", "big5"} or enc.startswith("gb"):
        return "gb18030" if enc != "big5" else "big5"
    return enc


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0x3400 <= o <= 0x4DBF or o == 0xA5


def _header_index(cells: pd.DataFrame, known: set[str]) -> int:
    """Return the 0-based index of the row that looks most like a header (most known column names)."""
    best, best_hits = 0, 0
    for i in range(min(len(cells), _HEADER_SCAN_ROWS)):
        hits = sum(normalize_column_name(v) in known for v in cells.iloc[i].tolist() if pd.notna(v))
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def _text_layout(path: Path, known: set[str]) -> tuple[str, str | None, int]:
    """Detect encoding, delimiter and 0-based header line of a text file (delimiter ``None``: no text at all)."""
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    text_head = sample.decode(encoding, errors="replace")
    # only the first rows' first 64 KiB matter for the delimiter and the header (a huge cell must not stall them)
    lines = [ln[:65536] for ln in text_head.splitlines()[:_HEADER_SCAN_ROWS]]
    if not [ln for ln in lines if ln.strip()]:
        return encoding, None, 0
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|").delimiter
    except csv.Error:
        sep = "\t" if path.suffix == ".tsv" else ","
    head = pd.DataFrame(list(csv.reader(lines, delimiter=sep)))
    return encoding, sep, _header_index(head, known)


def _iter_text(path: Path, known: set[str], chunk_rows: int | None) -> Iterator[RawTable]:
    encoding, sep, h = _text_layout(path, known)
    if sep is None:
        yield RawTable(pd.DataFrame(), pd.Series(dtype="int64"), path, encoding, 1)
        return
    reader = pd.read_csv(
        path,
        sep=sep,
        encoding=encoding,
        skiprows=h,
        header=0,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=False,
        engine="c",
        index_col=False,
        chunksize=chunk_rows,
    )
    frames = reader if chunk_rows else [reader]
    for frame in frames:  # chunks keep counting the index, so line numbers stay exact
        frame = frame.dropna(how="all")  # blank lines carry no record; their line numbers are still counted below
        rows = pd.Series(frame.index.to_numpy() + h + 2, index=frame.index)
        yield RawTable(frame.reset_index(drop=True), rows.reset_index(drop=True), path, encoding, h + 1)


def _read_text(path: Path, known: set[str]) -> RawTable:
    return next(_iter_text(path, known, None))


def _iter_parquet(path: Path, chunk_rows: int | None) -> Iterator[RawTable]:
    pf = pq.ParquetFile(path)
    offset = 0
    batches = pf.iter_batches(batch_size=chunk_rows) if chunk_rows else [pf.read()]
    empty = True
    for batch in batches:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch], schema=pf.schema_arrow)
        frame = table.to_pandas()
        # a stored pandas index: named levels are data (kept as columns), an unnamed one is row labels (dropped)
        frame = frame.reset_index(drop=all(n is None for n in frame.index.names))
        rows = pd.Series(range(offset + 1, offset + len(frame) + 1), dtype="int64")
        offset += len(frame)
        empty = False
        yield RawTable(frame, rows, path, None, 0)
    if empty:
        frame = pf.schema_arrow.empty_table().to_pandas()
        yield RawTable(frame.reset_index(drop=True), pd.Series(dtype="int64"), path, None, 0)


def _read_excel(path: Path, known: set[str]) -> RawTable:
    cells = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
    cells = cells.dropna(how="all", axis=1)
    if cells.empty:
        return RawTable(pd.DataFrame(), pd.Series(dtype="int64"), path, None, 1)
    h = _header_index(cells, known)
    header = [str(v) if pd.notna(v) else f"unnamed_{j}" for j, v in enumerate(cells.iloc[h].tolist())]
    body = cells.iloc[h + 1 :].copy()
    body.columns = header
    body = body.dropna(how="all")
    rows = pd.Series(body.index.to_numpy() + 1, index=body.index)  # read_excel index 0 = Excel row 1
    return RawTable(body.reset_index(drop=True), rows.reset_index(drop=True), path, None, h + 1)


def read_raw(path: str | Path, known_columns: set[str] | None = None) -> RawTable:
    """Read one file into raw cells with source row numbers.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` / ``.tsv`` / ``.txt`` (any of UTF-8, UTF-8-BOM, GBK, GB18030), ``.xlsx`` or ``.parquet`` file.
    known_columns : set of str, optional
        Normalised header names of the table, used to find the header row below title rows.

    Returns
    -------
    RawTable
        The cells, their source row numbers and what was detected.
    """
    return next(iter_raw(path, known_columns, chunk_rows=None))


def iter_raw(
    path: str | Path, known_columns: set[str] | None = None, chunk_rows: int | None = None
) -> Iterator[RawTable]:
    """Read one file in chunks of at most ``chunk_rows`` records (one chunk when ``None``), with source row numbers.

    CSV and Parquet files stream, so a file of tens of millions of rows never sits in memory whole; Excel files
    (at most about a million rows) are read at once. An empty file yields one empty chunk.

    Parameters
    ----------
    path : str or Path
        As for :func:`read_raw`.
    known_columns : set of str, optional
        Normalised header names of the table.
    chunk_rows : int, optional
        Records per chunk.

    Yields
    ------
    RawTable
        One chunk; ``rows`` continue across chunks.
    """
    path = Path(path)
    known = known_columns or set()
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        yield from _iter_text(path, known, chunk_rows)
    elif suffix in (".xlsx", ".xlsm"):
        yield _read_excel(path, known)
    elif suffix == ".parquet":
        yield from _iter_parquet(path, chunk_rows)
    else:
        raise ValueError(f"{path.name}: unsupported file type {suffix!r} (use one of {', '.join(SUPPORTED_SUFFIXES)})")
