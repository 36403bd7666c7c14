"""Read one raw export file (CSV in any Chinese encoding, Excel, Parquet, gzip / zip) into a frame of raw cells.

The reader does not interpret values: it finds the encoding (over the whole file, not only its start), the
delimiter and the header row (Excel exports often carry a title row above the header), and records each row's
source row number so quarantine reasons can point at the exact line a user sees in Excel or a text editor. A text
row with more fields than the header (an unquoted comma, a broken escape) is not shifted: it is returned in
``bad_rows`` with its reason, and the loader quarantines it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from helpers.contract import normalize_column_name

__all__ = [
    "COMPRESSED_SUFFIXES",
    "RawTable",
    "SUPPORTED_SUFFIXES",
    "UnreadableFile",
    "detect_encoding",
    "iter_raw",
    "read_raw",
    "split_table_file_name",
]

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet")
#: Compressed files read by decompressing them first: ``orders.csv.gz``, ``orders.zip`` (one file inside).
COMPRESSED_SUFFIXES = (".csv.gz", ".tsv.gz", ".txt.gz", ".zip")
#: File types named after a table but not read, with what to do instead.
UNSUPPORTED_SUFFIXES = {
    ".xls": "old Excel .xls format: save it as .xlsx or .csv",
    ".xlsb": "binary Excel .xlsb format: save it as .xlsx or .csv",
    ".ods": "OpenDocument format: save it as .xlsx or .csv",
    ".numbers": "Numbers format: export it as .xlsx or .csv",
    ".json": "JSON: export the table as .csv, .xlsx or .parquet",
    ".gz": "only .csv.gz, .tsv.gz and .txt.gz are read",
    ".7z": "7-Zip archive: use .zip or .csv.gz",
    ".rar": "RAR archive: use .zip or .csv.gz",
}
_SAMPLE_BYTES = 1 << 20
_BLOCK_BYTES = 4 << 20
_HEADER_SCAN_ROWS = 15


class UnreadableFile(ValueError):
    """A file that cannot be read as what its name says; the one-line message gives the reason, never a cell."""


@dataclass
class RawTable:
    """Raw cells of one file (or one chunk of it).

    Attributes
    ----------
    frame : DataFrame
        Cells as read (strings for text files; native types for Excel and Parquet), original headers.
    rows : Series
        Source row number of each record: the 1-based line / Excel row, or the record number for Parquet.
    path : Path
        File read (the compressed file, for ``.csv.gz`` / ``.zip``).
    encoding : str or None
        Detected text encoding (CSV only).
    header_row : int
        1-based row holding the header (1 unless title rows were skipped).
    bad_rows : DataFrame
        ``row, reason, value``: text rows that could not be split into the header's fields (not in ``frame``).
    has_nul : bool
        The text file contains NUL bytes (cells holding one are quarantined by the loader).
    short_rows : dict
        Source row -> number of fields, for text rows with fewer fields than the header (read with the missing
        trailing cells empty).
    notes : list of str
        What the reader changed (encodings decoded line by line, …), on the first chunk only.
    """

    frame: pd.DataFrame
    rows: pd.Series
    path: Path
    encoding: str | None
    header_row: int
    bad_rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "reason", "value"]))
    has_nul: bool = False
    notes: list[str] = field(default_factory=list)
    short_rows: dict[int, int] = field(default_factory=dict)


def split_table_file_name(name: str) -> tuple[str, str | None]:
    """Split a file name into the table stem and, if it is not a readable type, the reason.

    Examples
    --------
    >>> split_table_file_name("orders.csv.gz"), split_table_file_name("Orders.xlsx")
    (('orders', None), ('Orders', None))
    >>> split_table_file_name("orders.xls")
    ('orders', 'old Excel .xls format: save it as .xlsx or .csv')
    """
    low = name.lower()
    for suffix in (*COMPRESSED_SUFFIXES, *SUPPORTED_SUFFIXES):
        if low.endswith(suffix):
            return name[: -len(suffix)], None
    p = Path(name)
    return p.stem, UNSUPPORTED_SUFFIXES.get(p.suffix.lower(), f"{p.suffix or 'no suffix'}: not a table file type")


def detect_encoding(sample: bytes) -> str:
    r"""Detect a text encoding: UTF-8 (with or without BOM) first, else charset-normalizer.

    GB2312 and GBK detections are widened to GB18030, their superset, so rare characters still decode.

    Parameters
    ----------
    sample : bytes
        Bytes of the file (up to 1 MiB is used).

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
    sample = sample[:_SAMPLE_BYTES]
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
    best = from_bytes(sample).best()
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


# ---------------------------------------------------------------------------------------------- text encodings
@dataclass
class _Encoding:
    name: str  # codec of the whole file, or "mixed" (decoded line by line)
    has_nul: bool = False
    mixed: bool = False


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _has_utf8_cjk_line(block: bytes) -> bool:
    """Whether a block (of a GB18030 file) holds a line that is valid UTF-8 with CJK text: a mid-file switch."""
    if block.isascii():
        return False
    text = block.decode("utf-8", errors="replace")
    return any("\ufffd" not in ln and not ln.isascii() and max(ln) >= "\u2e80" for ln in text.split("\n"))


def _scan_encoding(path: Path) -> _Encoding:
    """Detect the encoding over the whole file: a GBK file whose first MiB is ASCII, a switch midway, NUL bytes."""
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
        enc = detect_encoding(sample)
        if enc == "utf-16":
            return _Encoding(enc)
        fh.seek(0)
        has_nul = False
        if enc in ("utf-8", "utf-8-sig"):
            dec = codecs.getincrementaldecoder("utf-8")()
            pos, ascii_before = 0, True
            while block := fh.read(_BLOCK_BYTES):
                has_nul = has_nul or b"\x00" in block
                try:
                    dec.decode(block)
                except UnicodeDecodeError as err:
                    bad_at = pos + max(err.start, 0)
                    # what comes after the first byte that is not UTF-8 decides: GBK after ASCII, or a switch
                    fh.seek(max(bad_at - 256, 0))
                    rest = fh.read(_SAMPLE_BYTES)
                    other = detect_encoding(rest[rest.find(b"\n") + 1 :] if b"\n" in rest[:512] else rest)
                    if other.startswith("utf"):
                        other = "gb18030"
                    fh.seek(0)
                    head = fh.read(bad_at)
                    ascii_before = ascii_before and head.isascii()
                    mixed = not ascii_before
                    fh.seek(bad_at)
                    while block := fh.read(_BLOCK_BYTES):
                        has_nul = has_nul or b"\x00" in block
                        mixed = mixed or (other == "gb18030" and _has_utf8_cjk_line(block))
                    return _Encoding(other, has_nul, mixed)
                ascii_before = ascii_before and block.isascii()
                pos += len(block)
            return _Encoding(enc, has_nul)
        mixed = False
        if _has_utf8_cjk_line(sample[: sample.rfind(b"\n") + 1] or sample):
            # UTF-8 lines beside lines in another encoding: detect that one from the lines that are not UTF-8
            other = b"\n".join(ln for ln in sample.split(b"\n") if not _is_utf8(ln))
            enc, mixed = detect_encoding(other) if other.strip() else enc, True
            enc = "gb18030" if enc.startswith("utf") else enc
        carry = b""
        while block := fh.read(_BLOCK_BYTES):
            has_nul = has_nul or b"\x00" in block
            if enc == "gb18030" and not mixed:
                cut = block.rfind(b"\n") + 1
                mixed = _has_utf8_cjk_line(carry + block[:cut])
                carry = block[cut:]
        mixed = mixed or (enc == "gb18030" and _has_utf8_cjk_line(carry))
        return _Encoding(enc, has_nul, mixed)


def _decode_line(line: bytes, encoding: str) -> str:
    try:
        return line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return line.decode(encoding, errors="replace")


def _transcode_lines(src: Path, dst: Path, encoding: str) -> tuple[int, int]:
    """Write ``src`` as UTF-8, decoding each line as UTF-8 if it is valid UTF-8, else as ``encoding``."""
    n_utf8 = n_other = 0
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        first = True
        for line in fin:
            if first and line.startswith(codecs.BOM_UTF8):
                line = line[3:]
            first = False
            if line.isascii():
                fout.write(line.decode("ascii"))
                continue
            try:
                fout.write(line.decode("utf-8"))
                n_utf8 += 1
            except UnicodeDecodeError:
                fout.write(line.decode(encoding, errors="replace"))
                n_other += 1
    return n_utf8, n_other


# ------------------------------------------------------------------------------------------------- text layout
@dataclass
class _Layout:
    encoding: str
    sep: str | None
    header_line: int  # 0-based
    names: list[str]
    has_nul: bool = False
    mixed: bool = False


def _unique_names(cells: list[str]) -> list[str]:
    """Name empty header cells ``unnamed_<j>`` and number repeated ones ``name.1`` (as pandas does)."""
    out, seen = [], {}
    for j, c in enumerate(cells):
        c = c if c and c.strip() else f"unnamed_{j}"
        if c in seen:
            seen[c] += 1
            c = f"{c}.{seen[c]}"
        else:
            seen[c] = 0
        out.append(c)
    return out


def _text_layout(path: Path, known: set[str]) -> _Layout:
    """Detect encoding, delimiter, header line and column names of a text file (``sep`` None: no text at all)."""
    enc = _scan_encoding(path)
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    if enc.mixed:  # the head, line by line as the file will be read
        text_head = "\n".join(_decode_line(ln, enc.name) for ln in sample.split(b"\n")[: 2 * _HEADER_SCAN_ROWS])
    else:
        text_head = sample.decode(enc.name if enc.name != "utf-8" else "utf-8-sig", errors="replace")
    # only the first rows' first 64 KiB matter for the delimiter and the header (a huge cell must not stall them)
    lines = [ln[:65536] for ln in text_head.splitlines()[:_HEADER_SCAN_ROWS]]
    if not [ln for ln in lines if ln.strip()]:
        return _Layout(enc.name, None, 0, [], enc.has_nul, enc.mixed)
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|").delimiter
    except csv.Error:
        sep = "\t" if path.suffix == ".tsv" else ","
    rows = list(csv.reader(lines, delimiter=sep))
    h = _header_index(pd.DataFrame(rows), known)
    header = list(rows[h]) if h < len(rows) else []
    data = [r for r in rows[h + 1 :] if any(c.strip() for c in r)]
    # a delimiter at the end of every data line (but not of the header), or of the header only
    if data and all(len(r) == len(header) + 1 and not r[-1].strip() for r in data):
        header.append("")
    elif data and header and not header[-1].strip() and all(len(r) == len(header) - 1 for r in data):
        header.pop()
    return _Layout(enc.name, sep, h, _unique_names(header), enc.has_nul, enc.mixed)


class _RowNumbers:
    """Source record numbers of the rows pyarrow returns, given the records it handed to the invalid-row handler."""

    def __init__(self, first: int) -> None:
        self.first = first  # record number of the first data record
        self.invalid: list[int] = []  # record numbers not returned as rows, ascending
        self.given = 0  # rows numbered so far

    def take(self, n: int) -> np.ndarray:
        inv = np.asarray(self.invalid, dtype=np.int64)
        before = inv - self.first - np.arange(len(inv))  # valid records before each invalid one
        g = np.arange(self.given, self.given + n, dtype=np.int64)
        self.given += n
        return g + self.first + np.searchsorted(before, g, side="right")


def _split_line(text: str, sep: str) -> list[str]:
    return next(csv.reader(io.StringIO(text), delimiter=sep), [])


def _iter_text(path: Path, known: set[str], chunk_rows: int | None, shown: Path) -> Iterator[RawTable]:
    lay = _text_layout(path, known)
    if lay.sep is None:
        yield RawTable(pd.DataFrame(), pd.Series(dtype="int64"), shown, lay.encoding, 1)
        return
    tmp = Path(tempfile.mkdtemp(prefix="siyu-text-")) if lay.mixed else None
    try:
        src, encoding, notes = _decodable_source(path, lay, shown, tmp)
        chunks = _TextChunks(lay, shown, notes)
        reader = _open_text(src, lay, encoding, chunks.invalid_row)
        for tables, final in _batches_of(reader, chunk_rows):
            yield chunks.build(tables, final)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _decodable_source(path: Path, lay: _Layout, shown: Path, tmp: Path | None) -> tuple[Path, str, list[str]]:
    """Return the file pyarrow reads, its encoding, notes; a file whose encoding changes is transcoded to ``tmp``."""
    if tmp is not None:
        src = tmp / "utf8.csv"
        n_utf8, n_other = _transcode_lines(path, src, lay.encoding)
        note = (
            f"{shown.name}: the text encoding changes inside the file: {n_utf8:,} line(s) read as UTF-8, "
            f"{n_other:,} as {lay.encoding.upper()} (decoded line by line)"
        )
        return src, "utf8", [note]
    # pyarrow's own decoder for UTF-8; it skips a BOM
    return path, "utf8" if lay.encoding in ("utf-8", "utf-8-sig") else lay.encoding, []


def _open_text(src: Path, lay: _Layout, encoding: str, invalid_row) -> pcsv.CSVStreamingReader:
    """Open a streaming pyarrow reader of every column as text; rows it cannot split go to ``invalid_row``."""
    return pcsv.open_csv(
        src,
        read_options=pcsv.ReadOptions(
            skip_rows=lay.header_line + 1,
            column_names=lay.names,
            use_threads=False,
            block_size=_BLOCK_BYTES,
            encoding=encoding,
        ),
        parse_options=pcsv.ParseOptions(
            delimiter=lay.sep, newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid_row
        ),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(lay.names, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


def _batches_of(reader, chunk_rows: int | None) -> Iterator[tuple[list[pa.Table], bool]]:
    """Regroup the reader's batches into lists of ``chunk_rows`` rows (all in one list if ``None``); last is final."""
    buf: list[pa.Table] = []
    n_buf = 0
    for batch in reader:
        t = pa.Table.from_batches([batch])
        while chunk_rows and n_buf + t.num_rows >= chunk_rows:
            k = chunk_rows - n_buf
            buf.append(t.slice(0, k))
            yield buf, False
            buf, n_buf, t = [], 0, t.slice(k)
        if t.num_rows:
            buf.append(t)
            n_buf += t.num_rows
    yield buf, True


class _TextChunks:
    """Turn pyarrow's text tables into :class:`RawTable` chunks, putting back the rows its parser rejected.

    pyarrow hands rows it cannot split to :meth:`invalid_row`: a row with too few fields (Excel drops empty
    trailing ones) is kept with the missing cells empty; a row with too many is a bad row with its reason. Each
    chunk gets its source line numbers, its repaired rows in file order, and the bad rows read before its end.
    """

    def __init__(self, lay: _Layout, shown: Path, notes: list[str]) -> None:
        self.lay, self.shown, self.notes = lay, shown, notes
        self.ncols = len(lay.names)
        self.numbers = _RowNumbers(lay.header_line + 2)
        self.pending: list[tuple[int, list[str] | None, str]] = []  # (record, fields or None if bad, reason / count)
        self.schema = pa.schema([(n, pa.string()) for n in lay.names])

    def invalid_row(self, row) -> str:
        """Remember a row pyarrow could not split (repaired or bad) and tell pyarrow to skip it."""
        self.numbers.invalid.append(row.number)
        sep, ncols = self.lay.sep, self.ncols
        text = row.text or ""
        if not text.strip(" \t\r\n" + sep):
            return "skip"  # a blank line, or only delimiters: no record
        fields = _split_line(text, sep)
        if len(fields) > ncols and not any(f.strip() for f in fields[ncols:]):
            fields = fields[:ncols]  # empty fields after the last column: a trailing delimiter
        if len(fields) <= ncols:  # missing trailing fields: read as empty
            self.pending.append((row.number, fields + [None] * (ncols - len(fields)), str(len(fields))))
        else:
            self.pending.append((row.number, None, f"wrong number of fields ({len(fields)}, expected {ncols})"))
        return "skip"

    def build(self, tables: list[pa.Table], final: bool) -> RawTable:
        """One chunk: the parsed rows plus the repaired rows before its end, in file order; its bad rows aside."""
        t = pa.concat_tables(tables) if tables else self.schema.empty_table()
        rows = self.numbers.take(t.num_rows)
        limit = rows[-1] if len(rows) else -1
        take = [r for r in self.pending if final or r[0] < limit]
        del self.pending[: len(take)]
        good = [r for r in take if r[1] is not None]
        if good:
            extra = pa.table({n: pa.array([r[1][j] for r in good], pa.string()) for j, n in enumerate(self.lay.names)})
            t = pa.concat_tables([t, extra])
            rows = np.concatenate([rows, np.array([r[0] for r in good], dtype=np.int64)])
            order = np.argsort(rows, kind="stable")
            t, rows = t.take(pa.array(order)), rows[order]
        bad = pd.DataFrame(
            {"row": [r[0] for r in take if r[1] is None], "reason": [r[2] for r in take if r[1] is None]},
            columns=["row", "reason"],
        )
        bad["value"] = None
        frame = t.to_pandas(types_mapper=_arrow_strings)
        keep = frame.notna().any(axis=1).to_numpy()  # blank lines carry no record; their numbers stay counted
        frame = frame[keep].reset_index(drop=True)
        short = {r[0]: int(r[2]) for r in good if int(r[2]) < self.ncols}
        lay, notes = self.lay, self.notes
        self.notes = []  # notes go with the first chunk only
        rows_kept = pd.Series(rows[keep], dtype="int64")
        return RawTable(frame, rows_kept, self.shown, lay.encoding, lay.header_line + 1, bad, lay.has_nul, notes, short)


def _arrow_strings(t: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(t) if pa.types.is_string(t) or pa.types.is_large_string(t) else None


# ----------------------------------------------------------------------------------------------------- parquet
_NS_MIN, _NS_MAX = datetime(1677, 9, 22), datetime(2262, 4, 11)


def _safe_timestamps(table: pa.Table) -> pa.Table:
    """Turn timestamp columns holding values pandas cannot hold (9999-12-31) into text, parsed as placeholders."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and table.num_rows and f.type.unit != "ns":
            mm = pc.min_max(table.column(i))
            try:
                ends = (mm["min"].as_py(), mm["max"].as_py())
                lo, hi = (v.replace(tzinfo=None) if v is not None else None for v in ends)
                far = (lo is not None and lo < _NS_MIN) or (hi is not None and hi > _NS_MAX)
            except (ValueError, OverflowError):  # beyond what a Python datetime holds
                far = True
            if far:
                col = pc.cast(pc.cast(table.column(i), pa.timestamp("us", f.type.tz)), pa.string())
                table = table.set_column(i, pa.field(f.name, pa.string()), col)
    return table


def _has_nul(table: pa.Table) -> bool:
    """Whether a text cell holds a NUL byte (quarantined as in a text file: whoever wrote it cut the cell short)."""
    for col in table.columns:
        if (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and pc.any(
            pc.match_substring(col, "\x00")
        ).as_py():
            return True
    return False


def _iter_parquet(path: Path, chunk_rows: int | None, shown: Path) -> Iterator[RawTable]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise UnreadableFile(f"not a readable Parquet file ({type(err).__name__})") from None
    offset = 0
    batches = pf.iter_batches(batch_size=chunk_rows) if chunk_rows else [pf.read()]
    empty = True
    for batch in batches:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch], schema=pf.schema_arrow)
        frame = _safe_timestamps(table).to_pandas(types_mapper=_arrow_strings)
        # a stored pandas index: named levels are data (kept as columns), an unnamed one is row labels (dropped)
        frame = frame.reset_index(drop=all(n is None for n in frame.index.names))
        rows = pd.Series(range(offset + 1, offset + len(frame) + 1), dtype="int64")
        offset += len(frame)
        empty = False
        yield RawTable(frame, rows, shown, None, 0, has_nul=_has_nul(table))
    if empty:
        frame = pf.schema_arrow.empty_table().to_pandas()
        yield RawTable(frame.reset_index(drop=True), pd.Series(dtype="int64"), shown, None, 0)


# ------------------------------------------------------------------------------------------------------- excel
def _check_excel(path: Path) -> None:
    """Raise :class:`UnreadableFile` with the reason when an ``.xlsx`` is not an Excel workbook."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            "a password-protected workbook or an old .xls file renamed .xlsx: save it unprotected as .xlsx or .csv"
        )
    if not zipfile.is_zipfile(path):
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise UnreadableFile("an HTML or XML page named .xlsx, not an Excel workbook: save it as .xlsx or .csv")
        raise UnreadableFile("not an Excel workbook (a text or other file named .xlsx): save it as .xlsx or .csv")
    with zipfile.ZipFile(path) as z:
        if "xl/workbook.xml" not in z.namelist():
            raise UnreadableFile("a zip archive but not an Excel workbook")


def _read_excel(path: Path, known: set[str], shown: Path) -> RawTable:
    _check_excel(path)
    try:
        cells = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as err:
        raise UnreadableFile(f"the workbook cannot be opened ({type(err).__name__})") from None
    cells = cells.dropna(how="all", axis=1)
    if cells.empty:
        return RawTable(pd.DataFrame(), pd.Series(dtype="int64"), shown, None, 1)
    h = _header_index(cells, known)
    header = [str(v) if pd.notna(v) else f"unnamed_{j}" for j, v in enumerate(cells.iloc[h].tolist())]
    body = cells.iloc[h + 1 :].copy()
    body.columns = header
    body = body.dropna(how="all")
    rows = pd.Series(body.index.to_numpy() + 1, index=body.index)  # read_excel index 0 = Excel row 1
    return RawTable(body.reset_index(drop=True), rows.reset_index(drop=True), shown, None, h + 1)


# --------------------------------------------------------------------------------------------------- the entry
def read_raw(path: str | Path, known_columns: set[str] | None = None) -> RawTable:
    """Read one file into raw cells with source row numbers.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` / ``.tsv`` / ``.txt`` (any of UTF-8, UTF-8-BOM, GBK, GB18030), ``.xlsx``, ``.parquet``,
        ``.csv.gz`` or ``.zip`` (one file inside) file.
    known_columns : set of str, optional
        Normalised header names of the table, used to find the header row below title rows.

    Returns
    -------
    RawTable
        The cells, their source row numbers and what was detected.
    """
    return next(iter_raw(path, known_columns, chunk_rows=None))


def _decompressed(path: Path, folder: Path) -> Path:
    """Decompress ``x.csv.gz`` or a ``.zip`` holding one table file into ``folder``; return the file."""
    if path.name.lower().endswith(".gz"):
        out = folder / path.name[:-3]
        try:
            with gzip.open(path, "rb") as fin, open(out, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        except (OSError, EOFError) as err:
            raise UnreadableFile(f"not a readable gzip file ({type(err).__name__})") from None
        return out
    try:
        with zipfile.ZipFile(path) as z:
            members = [
                i
                for i in z.infolist()
                if not (i.is_dir() or i.filename.startswith("__MACOSX/") or Path(i.filename).name.startswith("."))
            ]
            usable = [i for i in members if Path(i.filename).suffix.lower() in SUPPORTED_SUFFIXES]
            if len(members) != 1 or len(usable) != 1:
                names = ", ".join(Path(i.filename).name for i in members[:5]) or "nothing"
                raise UnreadableFile(f"a .zip must hold exactly one .csv, .xlsx or .parquet file (it holds {names})")
            out = folder / re.sub(r"[^\w.\-]", "_", Path(usable[0].filename).name)
            with z.open(usable[0]) as fin, open(out, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
            return out
    except (zipfile.BadZipFile, OSError) as err:
        raise UnreadableFile(f"not a readable zip file ({type(err).__name__})") from None


def iter_raw(
    path: str | Path, known_columns: set[str] | None = None, chunk_rows: int | None = None
) -> Iterator[RawTable]:
    """Read one file in chunks of at most ``chunk_rows`` records (one chunk when ``None``), with source row numbers.

    CSV and Parquet files stream, so a file of tens of millions of rows never sits in memory whole; Excel files
    (at most about a million rows) are read at once. An empty file yields one empty chunk. ``.csv.gz`` files and
    ``.zip`` archives holding one table file are decompressed to a temporary folder first.

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

    Raises
    ------
    UnreadableFile
        The file is not what its name says (a renamed or protected workbook, a broken archive …).
    """
    path = Path(path)
    known = known_columns or set()
    low = path.name.lower()
    if low.endswith(COMPRESSED_SUFFIXES):
        tmp = Path(tempfile.mkdtemp(prefix="siyu-unpack-"))
        try:
            inner = _decompressed(path, tmp)
            yield from _iter(inner, known, chunk_rows, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    yield from _iter(path, known, chunk_rows, path)


def _iter(path: Path, known: set[str], chunk_rows: int | None, shown: Path) -> Iterator[RawTable]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        yield from _iter_text(path, known, chunk_rows, shown)
    elif suffix in (".xlsx", ".xlsm"):
        yield _read_excel(path, known, shown)
    elif suffix == ".parquet":
        yield from _iter_parquet(path, chunk_rows, shown)
    else:
        raise UnreadableFile(f"unsupported file type {suffix!r} (use one of {', '.join(SUPPORTED_SUFFIXES)})")
