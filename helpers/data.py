"""Load a folder of exports, validate it against the data contract, quarantine bad rows, count everything.

The public entry point is :func:`load`::

    ds = load("data/sample")
    contacts = ds.table("contacts")      # clean, typed pandas DataFrame
    ds.quarantine                        # table, row, column, reason, value — one line per broken rule
    ds.accounting                        # table, read, kept, quarantined — read == kept + quarantined

A broken *contract* (missing required table or column, unreadable file) raises :class:`DataContractError`
with a one-line message naming the file and the column. A broken *row* never disappears silently: it goes
to the quarantine with its source row number and the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers import parsing
from helpers.contract import ADD_WAY, ENUM_ALIASES, PII_COLUMNS, TABLES, TableSpec, normalize_column_name
from helpers.readers import SUPPORTED_SUFFIXES, iter_raw

__all__ = ["CHUNK_ROWS", "DataContractError", "Dataset", "TableStore", "load", "LOAD_ORDER", "hash_pii"]

#: Records validated per chunk: a table longer than this streams through the loader and is spooled to Parquet.
CHUNK_ROWS = 500_000

#: Tables are validated in this order so that references (orphans) can be checked against finished tables.
LOAD_ORDER = ("contacts", "campaigns", "orders", "touches", "assignments", "leads", "messages", "spend")
QUARANTINE_COLUMNS = ["table", "row", "column", "reason", "value"]
ACCOUNTING_COLUMNS = ["table", "file", "read", "kept", "quarantined"]
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


class DataContractError(ValueError):
    """The input breaks the data contract in a way no row-level quarantine can fix."""


def hash_pii(value: str, salt: str = "") -> str:
    """Return a salted, irreversible pseudonym for a personal identifier (phone number, WeChat id).

    Parameters
    ----------
    value : str
        The identifier.
    salt : str
        Secret salt; set your own (``pii_salt`` parameter) so pseudonyms cannot be looked up.

    Examples
    --------
    >>> hash_pii("13812345678", salt="s")[:4]
    'pii_'
    >>> hash_pii("13812345678", "s") == hash_pii("13812345678", "s")
    True
    """
    return "pii_" + hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()[:16]


class TableStore(Mapping):
    """Clean tables by name: small ones held as DataFrames, streamed ones as spooled Parquet files.

    Iterating, ``in`` and ``len`` never read a file; ``store[name]`` returns a DataFrame (reading a spooled table
    into memory — use :meth:`path` and an engine for large tables instead).
    """

    def __init__(self, frames: dict[str, pd.DataFrame] | None = None, paths: dict[str, Path] | None = None) -> None:
        self.frames = dict(frames or {})
        self.paths = dict(paths or {})

    def __iter__(self) -> Iterator[str]:
        names = [*self.frames, *(k for k in self.paths if k not in self.frames)]
        return iter(sorted(names, key=lambda n: LOAD_ORDER.index(n) if n in LOAD_ORDER else len(LOAD_ORDER)))

    def __len__(self) -> int:
        return len(set(self.frames) | set(self.paths))

    def __contains__(self, name: object) -> bool:
        return name in self.frames or name in self.paths

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name in self.frames:
            return self.frames[name]
        if name in self.paths:
            return _finish_dtypes(TABLES[name], pd.read_parquet(self.paths[name]))
        raise KeyError(name)

    def path(self, name: str) -> Path | None:
        """Return the spooled Parquet file of a streamed table (``None`` for a table held in memory)."""
        return self.paths.get(name)

    def rows(self, name: str) -> int:
        """Row count without reading the table."""
        if name in self.frames:
            return len(self.frames[name])
        return pq.ParquetFile(self.paths[name]).metadata.num_rows


@dataclass
class Dataset:
    """Validated contract tables with their quarantine and row accounting.

    Attributes
    ----------
    tables : TableStore (a dict of DataFrames given here is wrapped in one)
        Clean tables, canonical columns and dtypes (tables longer than :data:`CHUNK_ROWS` are spooled to Parquet
        while loading; see :class:`TableStore`).
    quarantine : DataFrame
        ``table, row, column, reason, value``: one line per broken rule (a row can break several).
    accounting : DataFrame
        ``table, file, read, kept, quarantined`` per table present.
    notes : list of str
        Everything the loader changed or ignored (renamed, dropped PII, ignored columns and files).
    as_of : Timestamp
        Timestamps after this are quarantined as "in the future".
    fingerprint : str
        SHA-256 over the names and bytes of the table files read.
    """

    tables: Mapping[str, pd.DataFrame]
    quarantine: pd.DataFrame
    accounting: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    as_of: pd.Timestamp | None = None
    fingerprint: str = ""
    sources: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tables, TableStore):
            self.tables = TableStore(frames=dict(self.tables))

    def has(self, name: str) -> bool:
        """Whether table ``name`` was supplied (optional tables may be absent)."""
        return name in self.tables

    def table(self, name: str) -> pd.DataFrame:
        """Return the clean table ``name``.

        Raises
        ------
        DataContractError
            If the table is not in the dataset (check :meth:`has` for optional tables).
        """
        if name not in TABLES:
            raise DataContractError(f"unknown table {name!r}; the contract has {', '.join(TABLES)}")
        if name not in self.tables:
            raise DataContractError(f"table {name!r} was not supplied (it is optional); check Dataset.has({name!r})")
        return self.tables[name]

    def write(self, out_dir: str | Path) -> Path:
        """Write clean tables to ``out_dir/clean/*.parquet`` and the quality report to ``out_dir/quality/``.

        Returns
        -------
        Path
            The ``clean`` folder.
        """
        out = Path(out_dir)
        clean, quality = out / "clean", out / "quality"
        clean.mkdir(parents=True, exist_ok=True)
        quality.mkdir(parents=True, exist_ok=True)
        for old in clean.glob("*.parquet"):
            old.unlink()
        for name in self.tables:
            spooled = self.tables.path(name)
            if spooled is not None:
                shutil.copyfile(spooled, clean / f"{name}.parquet")
                continue
            # microseconds: Spark cannot read nanosecond Parquet timestamps
            self.tables[name].to_parquet(
                clean / f"{name}.parquet", index=False, coerce_timestamps="us", allow_truncated_timestamps=True
            )
        self.quarantine.to_csv(quality / "quarantine.csv", index=False)
        self.accounting.to_csv(quality / "accounting.csv", index=False)
        manifest = {
            "as_of": str(self.as_of),
            "fingerprint": self.fingerprint,
            "tables": {k: int(n) for k, n in zip(self.accounting["table"], self.accounting["kept"], strict=True)},
            "notes": self.notes,
        }
        (quality / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        return clean


# --------------------------------------------------------------------------------------------- file discovery
def _find_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    found: dict[str, list[Path]] = {}
    ignored: list[str] = []
    for p in sorted(folder.iterdir()):
        if p.is_dir() or p.name.startswith("."):
            continue
        stem = normalize_column_name(p.stem)
        if stem in TABLES and p.suffix.lower() in SUPPORTED_SUFFIXES:
            found.setdefault(stem, []).append(p)
        else:
            ignored.append(p.name)
    for name, paths in found.items():
        if len(paths) > 1:
            raise DataContractError(
                f"{folder}: table {name!r} is given twice ({', '.join(p.name for p in paths)}); keep one file"
            )
    return {k: v[0] for k, v in found.items()}, ignored


def _fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda q: q.name):
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ column mapping
def _map_columns(spec: TableSpec, frame: pd.DataFrame, fname: str, notes: list[str]) -> pd.DataFrame:
    """Rename headers to canonical names, drop PII and extra columns, fail on missing required ones."""
    aliases = spec.alias_map()
    keep: dict[str, str] = {}
    dropped_pii, extra = [], []
    for col in frame.columns:
        norm = normalize_column_name(col)
        canon = aliases.get(norm)
        if canon is not None and canon not in keep.values():
            keep[col] = canon
            if norm != canon:
                notes.append(f"{fname}: column {str(col)!r} read as {canon!r}")
        elif canon is not None:
            notes.append(f"{fname}: column {str(col)!r} also maps to {canon!r}; the first one is used")
        elif norm in PII_COLUMNS:
            dropped_pii.append(str(col))
        elif norm == "add_way" and spec.name == "contacts":
            keep[col] = "_add_way"
        else:
            extra.append(str(col))
    out = frame[list(keep)].rename(columns=keep)
    if "_add_way" in out.columns:
        if "channel" not in out.columns:
            codes = pd.to_numeric(out["_add_way"], errors="coerce")
            out["channel"] = codes.map(lambda c: ADD_WAY.get(int(c), f"add_way_{int(c)}") if pd.notna(c) else None)
            notes.append(f"{fname}: channel derived from WeCom add_way codes")
        out = out.drop(columns="_add_way")
    if dropped_pii:
        notes.append(f"{fname}: personal-data columns dropped at load: {', '.join(dropped_pii)}")
    if extra:
        notes.append(f"{fname}: columns not in the contract ignored: {', '.join(extra)}")
    for c in spec.columns:
        if c.name in out.columns:
            continue
        if c.required:
            accepted = ", ".join([c.name, *c.aliases][:6])
            raise DataContractError(f"{fname}: missing required column {c.name!r} (accepted headers: {accepted})")
        out[c.name] = pd.Series([None] * len(out), index=out.index, dtype="object")
    return out[spec.column_names]


# ----------------------------------------------------------------------------------------------- parsing
def _parse_columns(spec: TableSpec, raw: pd.DataFrame, tz: str, issues: list[pd.DataFrame]) -> pd.DataFrame:
    typed = {}
    for c in spec.columns:
        s = raw[c.name]
        if c.kind == "id":
            v, bad = parsing.parse_id(s)
            why = "id in scientific notation (digits lost in Excel)"
        elif c.kind in ("timestamp", "date"):
            v, bad = parsing.parse_timestamp(s, tz=tz)
            if c.kind == "date":
                v = v.dt.normalize()
            why = "unparseable timestamp"
        elif c.kind == "money":
            v, bad = parsing.parse_amount(s)
            why = "unparseable amount"
        elif c.kind == "enum":
            if c.name == "status" and s.isna().all():
                s = pd.Series("paid", index=s.index)
            v, bad = parsing.parse_enum(s, ENUM_ALIASES[c.name])
            why = f"unknown {c.name} (allowed: {', '.join(c.enum or ())})"
        else:
            v, bad = parsing.parse_text(s)
            why = "unreadable text"
        if bad.any():
            issues.append(_issue(bad[bad].index, c.name, why, s[bad]))
        typed[c.name] = v
    return pd.DataFrame(typed, index=raw.index)


def _issue(index: pd.Index, column: str, reason: str | pd.Series, values: pd.Series | None = None) -> pd.DataFrame:
    vals = values.reindex(index) if values is not None else pd.Series(None, index=index, dtype="object")
    return pd.DataFrame({"idx": index, "column": column, "reason": reason, "value": vals.to_numpy()})


def _schema(spec: TableSpec, as_of: pd.Timestamp) -> pa.DataFrameSchema:
    """Value rules as a pandera schema (run lazily so every failing row is reported)."""
    cols = {}
    for c in spec.columns:
        checks = []
        if c.kind == "money":
            checks.append(pa.Check.ge(0, error="negative amount"))
        if c.kind in ("timestamp", "date"):
            checks.append(pa.Check.le(as_of, error=f"timestamp in the future (after as_of {as_of:%Y-%m-%d %H:%M})"))
        cols[c.name] = pa.Column(nullable=c.nullable, checks=checks, coerce=False, required=True)
    return pa.DataFrameSchema(cols, strict=False)


def _validate_values(spec: TableSpec, df: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame | None:
    try:
        _schema(spec, as_of).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        fc = fc[fc["index"].notna()]
        reason = fc["check"].astype(str).replace({"not_nullable": "missing value"})
        return pd.DataFrame(
            {
                "idx": fc["index"].to_numpy(),
                "column": fc["column"].to_numpy(),
                "reason": reason.to_numpy(),
                "value": fc["failure_case"].astype("object").to_numpy(),
            }
        )
    return None


def _row_rules(spec: TableSpec, df: pd.DataFrame) -> list[pd.DataFrame]:
    out = []
    if spec.name == "contacts":
        m = df["removed_at"].notna() & (df["removed_at"] < df["added_at"])
        if m.any():
            out.append(_issue(df.index[m], "removed_at", "removed before it was added", df.loc[m, "removed_at"]))
    if spec.name == "campaigns":
        m = df["end"].notna() & (df["end"] < df["start"])
        if m.any():
            out.append(_issue(df.index[m], "end", "campaign ends before it starts", df.loc[m, "end"]))
    return out


class _Seen:
    """64-bit hashes of rows (or keys) kept from earlier chunks, sorted, with the source row of each first one."""

    def __init__(self) -> None:
        self.h = np.empty(0, dtype=np.uint64)
        self.row = np.empty(0, dtype=np.int64)

    def lookup(self, h: np.ndarray) -> np.ndarray:
        """Source row of the earlier occurrence of each hash, or -1."""
        if not len(self.h):
            return np.full(len(h), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.h, h), len(self.h) - 1)
        return np.where(self.h[pos] == h, self.row[pos], -1)

    def add(self, h: np.ndarray, rows: np.ndarray) -> None:
        order = np.argsort(h, kind="stable")
        h, rows = h[order], rows[order]
        pos = np.searchsorted(self.h, h)
        self.h = np.insert(self.h, pos, h)
        self.row = np.insert(self.row, pos, rows)


def _row_hash(df: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)


def _duplicates(
    spec: TableSpec, df: pd.DataFrame, rows: pd.Series, seen: dict[str, _Seen] | None = None
) -> list[pd.DataFrame]:
    """Exact duplicate rows and duplicate keys, within the chunk and against earlier chunks (``seen``).

    Rows are compared by 64-bit hashes of their values: a later row whose hash was seen before (earlier in the
    chunk or in an earlier chunk) is quarantined, naming the source row of the first occurrence.
    """
    out = []
    if df.empty:
        return out
    seen = seen if seen is not None else {"exact": _Seen(), "key": _Seen()}
    live = df
    checks = []
    if spec.exact_duplicates:
        checks.append(("exact", list(df.columns)))
    if spec.key:
        checks.append(("key", list(spec.key)))
    for kind, cols in checks:
        h = _row_hash(live[cols])
        r = rows.loc[live.index].to_numpy()
        first_here = pd.Series(r).groupby(h, sort=False).transform("min").to_numpy()
        earlier = seen[kind].lookup(h)
        first = np.where(earlier >= 0, earlier, first_here)
        dup = first != r
        if dup.any():
            later = live.index[dup]
            if kind == "exact":
                reasons = pd.Series(first[dup]).map(lambda x: f"exact duplicate of row {x}")
                out.append(_issue(later, "*", reasons.to_numpy(), None))
            else:
                label = "+".join(cols)
                keyval = live.loc[later, cols].astype(str).agg("|".join, axis=1)
                reasons = pd.Series(first[dup]).map(lambda x, lab=label: f"duplicate {lab} (first at row {x})")
                out.append(_issue(later, label, reasons.to_numpy(), keyval))
        seen[kind].add(h[~dup], r[~dup])
        live = live[~dup]
    return out


def _orphans(spec: TableSpec, df: pd.DataFrame, known_ids: dict[str, pd.Index]) -> list[pd.DataFrame]:
    out = []
    for col, ref in spec.references.items():
        rt = ref.split(".")[0]
        if ref not in known_ids:
            continue
        # the index's hash table is built once and reused for every chunk
        m = df[col].notna().to_numpy() & (known_ids[ref].get_indexer(df[col].to_numpy()) < 0)
        if m.any():
            out.append(_issue(df.index[m], col, f"orphan {col} (not in {rt})", df.loc[m, col]))
    return out


def _pseudonymise_ids(df: pd.DataFrame, spec: TableSpec, salt: str) -> int:
    """Replace phone-number-shaped user ids by salted hashes (same value -> same pseudonym in every table)."""
    n = 0
    for c in spec.columns:
        if c.kind != "id" or c.name not in ("user_id", "referrer_id"):
            continue
        s = df[c.name]
        arr = pyarrow.array(s.astype("object").to_numpy(), type=pyarrow.string(), from_pandas=True)
        hit = pc.fill_null(pc.match_substring_regex(arr, r"^1[3-9]\d{9}$"), False)
        m = pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index)
        if m.any():
            df.loc[m, c.name] = s[m].map(lambda v: hash_pii(v, salt))
            n += int(m.sum())
    return n


def _soft_reference_counts(name: str, df: pd.DataFrame, known_ids: dict[str, pd.Index], counts: dict) -> None:
    """Count references that are checked but not quarantined: unknown referrers and campaigns."""
    if name == "contacts":
        unknown = df["referrer_id"].notna() & ~df["referrer_id"].isin(known_ids["contacts.user_id"])
        counts["referrer"] = counts.get("referrer", 0) + int(unknown.sum())
    if "campaigns.campaign_id" in known_ids and name != "campaigns" and "campaign_id" in df.columns:
        miss = df["campaign_id"].notna() & ~df["campaign_id"].isin(known_ids["campaigns.campaign_id"])
        counts[name] = counts.get(name, 0) + int(miss.sum())


def _soft_reference_notes(counts: dict) -> list[str]:
    out = []
    if counts.get("referrer"):
        out.append(
            f"contacts: {counts['referrer']} referrer_id values are not contacts (kept; referrers may have left)"
        )
    for name in LOAD_ORDER:  # one fixed order, whenever each table was counted
        if counts.get(name):
            out.append(f"{name}: {counts[name]} rows name a campaign_id not in campaigns (kept)")
    return out


class _Spool:
    """Append a table's clean chunks to one Parquet file (microsecond timestamps, fixed schema)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, df: pd.DataFrame) -> None:
        t = pyarrow.Table.from_pandas(df, preserve_index=False)
        schema = pyarrow.schema(
            [
                pyarrow.field(f.name, pyarrow.timestamp("us")) if pyarrow.types.is_timestamp(f.type) else f
                for f in t.schema
            ]
        ).remove_metadata()
        t = t.cast(schema).replace_schema_metadata(None)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, t.schema, compression="zstd")
        self.writer.write_table(t)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _finish_dtypes(spec: TableSpec, df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for c in spec.columns:
        s = df[c.name]
        if c.kind in ("id", "text", "enum"):
            out[c.name] = s.astype("string")
        elif c.kind in ("timestamp", "date"):
            out[c.name] = pd.to_datetime(s).astype("datetime64[ns]")
        else:
            out[c.name] = s.astype("float64")
    return pd.DataFrame(out).reset_index(drop=True)


def _mask_pii_text(v: object) -> object:
    return _PHONE.sub("<phone>", v) if isinstance(v, str) else v


def _prepare_chunk(spec: TableSpec, raw, notes: list[str], timezone: str, as_of: pd.Timestamp, pii_salt: str) -> tuple:
    """Run the checks that need only the chunk itself: mapping, parsing, value and row rules (ahead, in a thread).

    ``notes`` is the loader's list for the first chunk of a file and a throwaway list for the others.
    """
    if raw.header_row > 1:
        notes.append(f"{raw.path.name}: {raw.header_row - 1} title row(s) above the header skipped")
    mapped = _map_columns(spec, raw.frame, raw.path.name, notes)
    issues: list[pd.DataFrame] = []
    typed = _parse_columns(spec, mapped, timezone, issues)
    n_neg = 0
    if spec.name == "orders":
        neg_refund = (typed["amount"] < 0) & (typed["status"] == "refunded")
        if neg_refund.any():
            typed.loc[neg_refund, "amount"] = typed.loc[neg_refund, "amount"].abs()
            n_neg = int(neg_refund.sum())
    n_pii = _pseudonymise_ids(typed, spec, pii_salt)
    bad_idx = set().union(*(set(i["idx"]) for i in issues)) if issues else set()
    live = typed.drop(index=list(bad_idx))
    v = _validate_values(spec, live, as_of)
    if v is not None:
        issues.append(v)
    issues.extend(_row_rules(spec, live))
    return raw, typed, issues, n_neg, n_pii


def _finish_chunk(
    spec: TableSpec,
    raw,
    typed: pd.DataFrame,
    issues: list[pd.DataFrame],
    seen: dict[str, _Seen],
    known_ids: dict[str, pd.Index],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """Run the checks against earlier chunks and tables (duplicates, orphans); return clean rows, quarantine, bad."""
    bad_idx = set().union(*(set(i["idx"]) for i in issues)) if issues else set()
    live = typed.drop(index=list(bad_idx))
    issues.extend(_duplicates(spec, live, raw.rows, seen))
    issues.extend(_orphans(spec, live, known_ids))
    cols = ["idx", "column", "reason", "value"]
    q = pd.DataFrame({k: np.concatenate([i[k].to_numpy(dtype=object) for i in issues] or [[]]) for k in cols})
    bad = pd.Index(q["idx"].unique())
    q.insert(0, "table", spec.name)
    q["row"] = raw.rows.loc[q["idx"].to_numpy()].to_numpy() if len(q) else np.array([], dtype="int64")
    q["value"] = q["value"].map(lambda x: None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))
    q["value"] = q["value"].map(_mask_pii_text).map(lambda x: x[:200] if isinstance(x, str) else x)
    kept = _finish_dtypes(spec, typed.drop(index=bad))
    return kept, q[QUARANTINE_COLUMNS], bad


def _prepared_chunks(spec: TableSpec, fpath: Path, chunk_rows: int, prepare, ahead: int = 2) -> Iterator[tuple]:
    """Read chunks and prepare up to ``ahead`` of them in worker threads, yielding them in file order."""
    chunks = iter_raw(fpath, set(spec.alias_map()), chunk_rows)
    with ThreadPoolExecutor(max_workers=ahead) as pool:
        pending: list = []
        first = True
        while True:
            try:
                raw = next(chunks)
            except StopIteration:
                break
            except (UnicodeDecodeError, ValueError, OSError) as err:
                raise DataContractError(f"{fpath.name}: cannot be read ({type(err).__name__}: {err})") from None
            if first and raw.frame.columns.empty:
                raise DataContractError(f"{fpath.name}: file is empty (no header row)")
            pending.append(pool.submit(prepare, raw, first))
            first = False
            if len(pending) > ahead:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


# --------------------------------------------------------------------------------------------------- load
def load(
    path: str | Path,
    *,
    as_of: str | pd.Timestamp | None = None,
    timezone: str = "Asia/Shanghai",
    pii_salt: str = "",
    tables: tuple[str, ...] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Dataset:
    """Load and validate a folder of contract tables.

    Each file is read and validated in chunks of ``chunk_rows`` records; the next chunk is parsed in a worker
    thread while the current one is checked against earlier chunks. A table that fits in one chunk is kept in
    memory; a longer one is spooled chunk by chunk to a temporary Parquet file, so memory stays bounded by the
    chunk size (plus the contacts' ids and 16 bytes per row for duplicate detection across chunks).

    Parameters
    ----------
    path : str or Path
        Folder with files named after the tables: ``contacts.csv``, ``orders.xlsx``, ``touches.parquet`` …
    as_of : str or Timestamp, optional
        Reference time; later timestamps are quarantined as in the future. Default: now, in ``timezone``.
    timezone : str
        Time zone of naive timestamps and target of tz-aware ones.
    pii_salt : str
        Salt for pseudonymising phone-number-shaped user ids.
    tables : tuple of str, optional
        Load only these tables (required tables are always loaded).
    chunk_rows : int
        Records validated at a time.

    Returns
    -------
    Dataset
        Clean tables, quarantine and accounting; ``read == kept + quarantined`` for every table.

    Raises
    ------
    DataContractError
        Missing folder, missing required table or column, ambiguous or unreadable file.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataContractError(f"data folder not found: {folder}")
    as_of_ts = pd.Timestamp(as_of) if as_of not in (None, "") else pd.Timestamp.now(tz=timezone).tz_localize(None)
    files, ignored = _find_files(folder)
    notes: list[str] = []
    if ignored:
        notes.append(f"files not in the contract ignored: {', '.join(ignored)}")
    for name, spec in TABLES.items():
        if spec.required and name not in files:
            exts = ", ".join(f"{name}{s}" for s in (".csv", ".xlsx", ".parquet"))
            raise DataContractError(f"{folder}: required table {name!r} not found (expected one of {exts})")
    wanted = [t for t in LOAD_ORDER if t in files and (tables is None or t in tables or TABLES[t].required)]
    store = TableStore()
    known_ids: dict[str, pd.Index] = {}
    soft: dict[str, int] = {}
    spool_dir: Path | None = None
    quarantine, accounting, sources = [], [], []
    for name in wanted:
        spec, fpath = TABLES[name], files[name]
        read = kept_n = bad_n = 0
        n_neg = n_pii = 0
        seen = {"exact": _Seen(), "key": _Seen()}
        id_parts: list[np.ndarray] = []
        ref_col = {"contacts": "user_id", "campaigns": "campaign_id"}.get(name)  # ids later tables reference
        kept_chunks: list[pd.DataFrame] = []
        spool: _Spool | None = None

        def prepare(raw, first: bool, spec=spec) -> tuple:
            return _prepare_chunk(spec, raw, notes if first else [], timezone, as_of_ts, pii_salt)

        first = True
        for raw, typed, issues, neg, pii in _prepared_chunks(spec, fpath, chunk_rows, prepare):
            if first:
                sources.append(
                    {"table": name, "file": fpath.name, "encoding": raw.encoding, "header_row": raw.header_row}
                )
                first = False
            kept, q, bad = _finish_chunk(spec, raw, typed, issues, seen, known_ids)
            n_neg, n_pii = n_neg + neg, n_pii + pii
            quarantine.append(q)
            if ref_col:
                id_parts.append(kept[ref_col].dropna().to_numpy(dtype=object))
            if name not in ("contacts", "campaigns"):  # campaigns are complete by now: count unknown campaign ids
                _soft_reference_counts(name, kept, known_ids, soft)
            kept_chunks.append(kept)
            if len(kept_chunks) > 1 or spool is not None:  # a second chunk: stream this table to disk from now on
                if spool is None:
                    spool_dir = spool_dir or Path(tempfile.mkdtemp(prefix="siyu-load-"))
                    spool = _Spool(spool_dir / f"{name}.parquet")
                for k in kept_chunks:
                    spool.write(k)
                kept_chunks = []
            n_raw = len(raw.frame)
            read += n_raw
            kept_n += len(kept)
            bad_n += len(bad)
            if n_raw != len(kept) + len(bad):  # pragma: no cover - an invariant, not a branch
                raise AssertionError(f"{name}: row accounting broken ({n_raw} != {len(kept)} + {len(bad)})")
        if id_parts:  # ids later tables reference: known once their table is complete
            known_ids[f"{name}.{ref_col}"] = pd.Index(np.concatenate(id_parts)).unique()
        if spool is not None:
            spool.close()
            store.paths[name] = spool.path
        else:
            store.frames[name] = kept_chunks[0]
        if n_neg:
            notes.append(f"{fpath.name}: {n_neg} refunds written as negative amounts made positive")
        if n_pii:
            notes.append(f"{fpath.name}: {n_pii} phone-number user ids replaced by salted pseudonyms")
        accounting.append({"table": name, "file": fpath.name, "read": read, "kept": kept_n, "quarantined": bad_n})
        if spec.required and read == 0:
            raise DataContractError(f"{fpath.name}: required table {name!r} has no rows")
    if "contacts" in store:  # contacts load before campaigns (and referrers need every contact): checked last
        cols = ["referrer_id", "campaign_id"]
        path = store.path("contacts")
        refs = store["contacts"][cols] if path is None else pd.read_parquet(path, columns=cols)
        _soft_reference_counts("contacts", refs, known_ids, soft)
    notes.extend(_soft_reference_notes(soft))
    qdf = pd.concat(quarantine, ignore_index=True) if quarantine else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    qdf = qdf.sort_values(["table", "row"], kind="stable").reset_index(drop=True)
    qdf["row"] = qdf["row"].astype("int64")
    ds = Dataset(
        tables=store,
        quarantine=qdf,
        accounting=pd.DataFrame(accounting, columns=ACCOUNTING_COLUMNS),
        notes=notes,
        as_of=as_of_ts,
        fingerprint=_fingerprint([files[t] for t in wanted]),
        sources=pd.DataFrame(sources),
    )
    if spool_dir is not None:
        weakref.finalize(ds, shutil.rmtree, spool_dir, True)
    return ds
