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
import multiprocessing
import os
import re
import shutil
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
import pyarrow.dataset
import pyarrow.parquet as pq

from helpers import parsing, privacy, textmask
from helpers.contract import (
    ADD_WAY,
    ADD_WAY_NAMES,
    DERIVED_TABLES,
    ENUM_ALIASES,
    PII_COLUMNS,
    TABLES,
    Column,
    DataContractError,
    TableSpec,
    _one_line,
    normalize_column_name,
)
from helpers.readers import UnreadableFile, iter_raw, split_table_file_name

__all__ = ["CHUNK_ROWS", "DataContractError", "Dataset", "TableStore", "load", "LOAD_ORDER"]

#: Records validated per chunk: a table longer than this streams through the loader and is spooled to Parquet.
CHUNK_ROWS = 500_000

#: Tables are validated in this order so that references (orphans) can be checked against finished tables.
LOAD_ORDER = (
    "contacts",
    "campaigns",
    "orders",
    "touches",
    "assignments",
    "leads",
    "messages",
    "spend",
    "staff",
    "broadcasts",
    "group_members",
)
QUARANTINE_COLUMNS = ["table", "row", "column", "reason", "value"]
ACCOUNTING_COLUMNS = ["table", "file", "read", "kept", "quarantined"]
#: Longest value copied into the quarantine (the reason and the row number point at the rest).
QUARANTINE_VALUE_CHARS = 200


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
        return pyarrow.dataset.dataset(self.paths[name], format="parquet").count_rows()


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
    sources : DataFrame, optional
        ``table, file, encoding, header_row`` of each file read.
    key_id : str
        Fingerprint of the pseudonymisation key (:func:`helpers.privacy.key_id`; ``demo`` for the demo key), never
        the key: pseudonyms are comparable between datasets with the same ``key_id``.
    """

    tables: Mapping[str, pd.DataFrame]
    quarantine: pd.DataFrame
    accounting: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    as_of: pd.Timestamp | None = None
    fingerprint: str = ""
    sources: pd.DataFrame | None = None
    key_id: str = ""

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
        if name not in TABLES and name not in DERIVED_TABLES:
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
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        for name in self.tables:
            spooled = self.tables.path(name)
            if spooled is not None and spooled.is_dir():  # Spark's folder of part files
                shutil.rmtree(clean / f"{name}.parquet", ignore_errors=True)
                shutil.copytree(spooled, clean / f"{name}.parquet")
                continue
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
            "pseudonym_key_id": self.key_id,
            "tables": {k: int(n) for k, n in zip(self.accounting["table"], self.accounting["kept"], strict=True)},
            "notes": self.notes,
        }
        (quality / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        return clean


# --------------------------------------------------------------------------------------------- file discovery
def _find_files(folder: Path) -> tuple[dict[str, Path], dict[str, tuple[Path, str]], list[str]]:
    """Table files by table name, files named after a table but of a type not read (with why), other files."""
    found: dict[str, list[Path]] = {}
    unsupported: dict[str, tuple[Path, str]] = {}
    ignored: list[str] = []
    for p in sorted(folder.iterdir()):
        if p.is_dir() or p.name.startswith("."):
            continue
        stem, problem = split_table_file_name(p.name)
        table = normalize_column_name(stem)
        if table in TABLES and problem is None:
            found.setdefault(table, []).append(p)
        elif table in TABLES:
            unsupported.setdefault(table, (p, problem))
        else:
            ignored.append(p.name)
    for name, paths in found.items():
        if len(paths) > 1:
            raise DataContractError(
                f"{folder}: table {name!r} is given twice ({', '.join(p.name for p in paths)}); keep one file"
            )
    return {k: v[0] for k, v in found.items()}, unsupported, ignored


def _fingerprint(paths: list[Path | str]) -> str:
    """SHA-256 over the files' names and bytes (a catalog table: its name only; its bytes are the engine's)."""
    h = hashlib.sha256()
    for p in sorted(paths, key=str):
        if isinstance(p, str):
            h.update(p.encode())
            continue
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _is_simulated(folder: Path) -> bool:
    """Whether a folder is simulator output (its truth.json): the only data the public demo key may pseudonymise."""
    try:
        truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(truth, dict) and {"seed", "planted", "rows"} <= set(truth)


# ------------------------------------------------------------------------------------------ column mapping
def _column_plan(spec: TableSpec, columns, fname: str, notes: list[str]) -> tuple[dict, list[str]]:
    """Decide how a file's headers map to the contract: ``{header: canonical name}`` and the absent columns.

    A WeCom ``add_way`` column maps to ``_add_way`` (the channel is derived from it when there is no channel column).
    Notes say what was renamed, dropped (personal data) or ignored; a missing required column is an error.
    """
    aliases = spec.alias_map()
    keep: dict = {}
    dropped_pii, extra = [], []
    for col in columns:
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
    if "_add_way" in keep.values() and "channel" not in keep.values():
        notes.append(f"{fname}: channel derived from WeCom add_way codes")
    if dropped_pii:
        notes.append(f"{fname}: personal-data columns dropped at load: {', '.join(dropped_pii)}")
    if extra:
        notes.append(f"{fname}: columns not in the contract ignored: {', '.join(extra)}")
    absent = []
    for c in spec.columns:
        if c.name in keep.values() or (c.name == "channel" and "_add_way" in keep.values()):
            continue
        if c.required:
            accepted = ", ".join([c.name, *c.aliases][:6])
            raise DataContractError(f"{fname}: missing required column {c.name!r} (accepted headers: {accepted})")
        absent.append(c.name)
    return keep, absent


def _map_columns(spec: TableSpec, frame: pd.DataFrame, fname: str, notes: list[str]) -> pd.DataFrame:
    """Rename headers to canonical names, drop PII and extra columns, fail on missing required ones."""
    keep, absent = _column_plan(spec, frame.columns, fname, notes)
    out = frame[list(keep)].rename(columns=keep)
    if "_add_way" in out.columns:
        if "channel" not in out.columns:
            out["channel"] = _add_way_channel(out["_add_way"])
        out = out.drop(columns="_add_way")
    for name in absent:
        out[name] = pd.Series([None] * len(out), index=out.index, dtype="object")
    out = out[spec.column_names]
    out.attrs["absent"] = absent
    return out


def _add_way_channel(codes: pd.Series) -> pd.Series:
    """Channel from WeCom ``add_way``: numeric codes and the console's Chinese labels by name, other text as is."""
    text = parsing.parse_text(codes)[0]
    num = pd.to_numeric(text, errors="coerce")
    by_code = num.map(lambda c: ADD_WAY.get(int(c), f"add_way_{int(c)}") if pd.notna(c) and c == int(c) else None)
    by_name = text.map(ADD_WAY_NAMES)
    return by_code.where(by_code.notna(), by_name.where(by_name.notna(), text.where(num.isna())))


# ----------------------------------------------------------------------------------------------- parsing
#: Id columns that name a person: pseudonymised when they hold personal data or non-ASCII letters (a name).
PERSON_ID_COLUMNS = frozenset({"user_id", "referrer_id", "inviter"})
#: Id columns pseudonymised whatever they hold: staff ids are often names (跟进人 / 员工ID) or phone numbers.
ALWAYS_PSEUDONYMISED = frozenset({"staff_id"})


def _id_mode(column: str) -> str:
    return "all" if column in ALWAYS_PSEUDONYMISED else "person" if column in PERSON_ID_COLUMNS else "detect"


def _reason(c: Column, problem: str) -> str:
    """Return the quarantine reason for a parser problem in column ``c``."""
    if problem == parsing.UNKNOWN:
        return f"unknown {c.name} (allowed: {', '.join(c.enum or ())})"
    return problem


@dataclass
class _Context:
    """What every chunk of one file is checked with (decided once per file, before any chunk is prepared)."""

    fname: str
    timezone: str
    as_of: pd.Timestamp
    key: bytes
    serials: dict[str, bool] = field(default_factory=dict)


def _parse_columns(
    spec: TableSpec, raw: pd.DataFrame, ctx: _Context, issues: list[pd.DataFrame], counts: Counter, has_nul: bool
) -> pd.DataFrame:
    typed = {}
    absent = raw.attrs.get("absent", [])
    for c in spec.columns:
        s = raw[c.name]
        if c.name == "status" and c.name in absent:  # no status column: every order is paid
            s = pd.Series("paid", index=s.index, dtype=object)
        v, problems, changed = _parse_one(c, s, ctx, has_nul)
        for k, m in changed.items():
            counts[k] += int(m.sum())
        for problem, m in problems.items():
            shown = s[m] if problem != parsing.ID_TOO_LONG else pd.Series(None, index=m[m].index, dtype=object)
            issues.append(_issue(m[m].index, c.name, _reason(c, problem), shown))
        typed[c.name] = v
    return pd.DataFrame(typed, index=raw.index)


def _parse_one(c: Column, s: pd.Series, ctx: _Context, has_nul: bool = False) -> tuple[pd.Series, dict, dict]:
    """Parse one column's raw cells as the contract says, cell by cell.

    Returns
    -------
    values : Series
        Typed values, pseudonymised and masked; empty where a cell has a problem.
    problems : dict
        Problem -> cells (only problems some cell has).
    changed : dict
        Load-note key (``"pseudonymised user_id"``, ``"empty status"`` …) -> cells changed but kept.
    """
    changed: dict[str, pd.Series] = {}
    try:
        p = parsing.parse_column(
            c.kind, s, tz=ctx.timezone, aliases=ENUM_ALIASES.get(c.name), serials=ctx.serials.get(c.name)
        )
        v = p.values
        if has_nul:  # a NUL byte inside a cell: whoever wrote it cut the cell short; it says so, not a parse
            nul = pd.Series(privacy.bool_mask(pc.match_substring(parsing._as_text(s), "\x00")), index=s.index)
            if nul.any():
                p.problems = {k: m & ~nul for k, m in p.problems.items()}
                p.problems["NUL byte in cell"] = nul
                v = v.mask(nul)
        before = v
        if c.kind == "id":
            v, n = privacy.pseudonymise_ids(v, ctx.key, _id_mode(c.name), arrow=p.arrow)
            if n:
                changed[f"pseudonymised {c.name}"] = v.ne(before) & before.notna()
        elif c.kind == "text":
            v, n = _mask_text_column(v, p.arrow, c.name)
            if n:
                changed[f"masked {c.name}"] = _per_cell(c.name, before, v)
    except DataContractError:
        raise
    except Exception as err:  # never a raw value in the message: name the file, the column and the kind
        raise DataContractError(
            f"{ctx.fname}: column {c.name!r} ({c.kind}) could not be checked ({type(err).__name__}: {err})"
        ) from None
    for k, m in p.changed_cells.items():
        changed[f"{k} {c.name}"] = m
    if c.name == "status":  # an empty status cell means paid, in every chunk alike
        empty = v.isna() & ~p.bad
        if empty.any():
            v = v.mask(empty, "paid")
            changed["empty status"] = empty
    placeholder = p.problems.get(parsing.PLACEHOLDER)
    if placeholder is not None and c.nullable:  # "never": an empty cell where the column may be empty
        del p.problems[parsing.PLACEHOLDER]
        changed[f"placeholder {c.name}"] = placeholder
    return v, {k: m for k, m in p.problems.items() if m.any()}, changed


#: Free-text columns (chat content): masked with the chat-text masker, which also knows "加我微信: xxx" handles.
FREE_TEXT_COLUMNS = frozenset({"content"})


def _mask_text_column(v: pd.Series, arrow, column: str) -> tuple[pd.Series, int]:
    """Mask phone numbers, WeChat ids, e-mails and card numbers inside a free-text label column.

    Returns the masked column and the number of strings masked.
    """
    if column in FREE_TEXT_COLUMNS:
        masked, n = textmask.mask_text(v)
        return (masked.where(v.notna(), v), sum(n.values())) if sum(n.values()) else (v, 0)
    cand = privacy.bool_mask(pc.match_substring_regex(arrow, privacy.TEXT_CANDIDATE_RE2))
    if not cand.any():
        return v, 0
    masked, n = privacy.mask_text(v[cand])
    if not n:
        return v, 0
    out = v.copy()
    out[cand] = masked.to_numpy()
    return out, sum(n.values())


def _per_cell(column: str, before: pd.Series, after: pd.Series) -> pd.Series:
    """Strings masked in each cell: the mask tokens in ``after`` not already in ``before``."""
    tokens = set(textmask.TOKENS.values()) if column in FREE_TEXT_COLUMNS else set(privacy._TOKENS.values())
    old = pyarrow.array(before.to_numpy(dtype=object), type=pyarrow.string(), from_pandas=True)
    new = pyarrow.array(after.to_numpy(dtype=object), type=pyarrow.string(), from_pandas=True)
    n = np.zeros(len(before), dtype=np.int64)
    for tok in tokens:
        grown = pc.subtract(pc.count_substring(new, tok), pc.count_substring(old, tok))
        n += np.asarray(pc.fill_null(grown, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return pd.Series(n, index=before.index)


def _issue(index: pd.Index, column: str, reason: str | pd.Series, values: pd.Series | None = None) -> pd.DataFrame:
    vals = values.reindex(index) if values is not None else pd.Series(None, index=index, dtype="object")
    return pd.DataFrame({"idx": index, "column": column, "reason": reason, "value": vals.to_numpy(dtype=object)})


#: End dates that may lie after as_of: a campaign still running at as_of (removals after as_of are emptied above).
_MAY_END_AFTER_AS_OF = {("campaigns", "end")}


def _schema(spec: TableSpec, as_of: pd.Timestamp) -> pa.DataFrameSchema:
    """Value rules as a pandera schema (run lazily so every failing row is reported)."""
    cols = {}
    for c in spec.columns:
        checks = []
        if c.kind == "money":
            checks.append(pa.Check.ge(0, error="negative amount"))
        if c.kind in ("timestamp", "date") and (spec.name, c.name) not in _MAY_END_AFTER_AS_OF:
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


@dataclass(frozen=True)
class RowRule:
    """A rule across the columns of one row: the column it is reported on, its reason, and when it applies.

    ``applies`` takes the row's table — a pandas DataFrame (chunked loader) or an ibis table (the engine) — and
    returns a boolean column; it is written with operations both understand, so the rule is stated once.
    """

    column: str
    reason: str
    applies: Callable


#: Cross-field rules per table, checked on the rows whose cells all parsed.
ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    "contacts": (
        RowRule(
            "removed_at",
            "removed before it was added",
            lambda d: d["removed_at"].notnull() & (d["removed_at"] < d["added_at"]),
        ),
    ),
    "campaigns": (
        RowRule("end", "campaign ends before it starts", lambda d: d["end"].notnull() & (d["end"] < d["start"])),
    ),
    # a customer's message must say whose it is; a staff post in a group need not
    "messages": (
        RowRule(
            "user_id",
            "missing value",
            lambda d: d["user_id"].isnull() & (d["sender_role"].isnull() | (d["sender_role"] != "staff")),
        ),
    ),
    "group_members": (
        RowRule(
            "quit_at",
            "left the group before joining",
            lambda d: d["quit_at"].notnull() & (d["quit_at"] < d["joined_at"]),
        ),
    ),
    "broadcasts": (
        RowRule("user_id", "neither a customer nor a group", lambda d: d["user_id"].isnull() & d["group_id"].isnull()),
    ),
}


def _row_rules(spec: TableSpec, df: pd.DataFrame) -> list[pd.DataFrame]:
    out = []
    for rule in ROW_RULES.get(spec.name, ()):
        m = rule.applies(df).to_numpy(dtype=bool)
        if m.any():
            out.append(_issue(df.index[m], rule.column, rule.reason, df.loc[m, rule.column]))
    return out


def _split_relationships(store: TableStore, notes: list[str]) -> None:
    """One person per contact row, and every (customer, staff member) relationship kept apart.

    WeCom lists a customer once per staff member who added them. The file's rows are relationships (key user_id +
    staff_id); ``contacts`` becomes one row per person — the first relationship (earliest ``added_at``), still a
    friend while any relationship is, else removed at the last removal — and ``relationships`` keeps every row.
    Without repeated customers nothing changes and no ``relationships`` table is made.
    """
    c = store["contacts"]
    if not c["user_id"].duplicated().any():
        return
    rel = c.sort_values(["user_id", "added_at"], kind="stable").reset_index(drop=True)
    persons = rel.drop_duplicates("user_id", keep="first").set_index("user_id")
    active = rel["removed_at"].isna().groupby(rel["user_id"]).any()
    last = rel.groupby("user_id")["removed_at"].max()
    persons["removed_at"] = last.where(~active).reindex(persons.index)
    persons = persons.reset_index()[list(c.columns)]
    store.paths.pop("contacts", None)
    store.frames["contacts"] = persons
    store.frames["relationships"] = rel
    notes.append(
        f"contacts: {len(rel) - len(persons):,} extra relationships (a customer added by several staff members): "
        f"{len(rel):,} relationships kept in relationships, {len(persons):,} people in contacts (each person's first "
        "relationship; a friend while any relationship is)"
    )


class _Seen:
    """64-bit hashes of rows (or keys) kept from earlier chunks, with the source row of each first occurrence.

    The hashes are kept in a few sorted runs, each at least twice as long as the next (a new run is merged into the
    last while it is as long): adding a chunk no longer copies every earlier hash, and a lookup sorts the chunk's
    hashes once and searches every run in order. A hash is in at most one run: only unseen hashes are added.

    Examples
    --------
    >>> seen = _Seen()
    >>> seen.add(np.array([7, 3], dtype=np.uint64), np.array([1, 2]))
    >>> seen.add(np.array([5], dtype=np.uint64), np.array([3]))
    >>> seen.lookup(np.array([3, 4, 5, 7], dtype=np.uint64)).tolist()
    [2, -1, 3, 1]
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def lookup(self, h: np.ndarray) -> np.ndarray:
        """Source row of the earlier occurrence of each hash, or -1."""
        out = np.full(len(h), -1, dtype=np.int64)
        if not self.runs or not len(h):
            return out
        order = np.argsort(h)
        hs = h[order]
        for run_h, run_row in self.runs:
            pos = np.minimum(np.searchsorted(run_h, hs), len(run_h) - 1)
            hit = run_h[pos] == hs
            out[order[hit]] = run_row[pos[hit]]
        return out

    def add(self, h: np.ndarray, rows: np.ndarray) -> None:
        """Add hashes not seen before, with their source rows."""
        if not len(h):
            return
        order = np.argsort(h, kind="stable")
        run_h, run_row = h[order], rows[order]
        while self.runs and len(self.runs[-1][0]) <= 2 * len(run_h):
            last_h, last_row = self.runs.pop()
            run_h, run_row = np.concatenate([last_h, run_h]), np.concatenate([last_row, run_row])
            order = np.argsort(run_h, kind="stable")  # two sorted runs: the stable sort (timsort) merges them
            run_h, run_row = run_h[order], run_row[order]
        self.runs.append((run_h, run_row))


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


def _soft_reference_counts(name: str, df: pd.DataFrame, known_ids: dict[str, pd.Index], counts: dict) -> None:
    """Count references that are checked but not quarantined: unknown referrers and campaigns."""
    if name == "contacts":
        counts["referrer"] = counts.get("referrer", 0) + _unknown(df["referrer_id"], known_ids["contacts.user_id"])
    if "campaigns.campaign_id" in known_ids and name != "campaigns" and "campaign_id" in df.columns:
        counts[name] = counts.get(name, 0) + _unknown(df["campaign_id"], known_ids["campaigns.campaign_id"])


def _unknown(values: pd.Series, known: pd.Index) -> int:
    """Count the non-empty ``values`` not in ``known``.

    Arrow's hash lookup: pandas' ``isin`` and ``get_indexer`` spent 0.3-0.5 s per 500 000 rows of a column with empty
    cells.
    """
    arr = pyarrow.array(values.to_numpy(dtype=object, na_value=None), type=pyarrow.string())
    known_arr = pyarrow.array(known.to_numpy(dtype=object), type=pyarrow.string(), from_pandas=True)
    return int(pc.sum(pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, value_set=known_arr)))).as_py() or 0)


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


#: Clean text columns: pandas strings stored in Arrow (written to Parquet without a per-string conversion).
_STRING = pd.StringDtype("pyarrow")


def _finish_dtypes(spec: TableSpec, df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for c in spec.columns:
        s = df[c.name]
        if c.kind in ("id", "text", "enum"):
            out[c.name] = s.astype(_STRING)
        elif c.kind in ("timestamp", "date"):
            out[c.name] = pd.to_datetime(s).astype("datetime64[ns]")
        else:
            out[c.name] = s.astype("float64")
    return pd.DataFrame(out).reset_index(drop=True)


def _quarantine_value(x: object) -> object:
    """Show a cell in the quarantine: as text, personal data masked, cut to :data:`QUARANTINE_VALUE_CHARS`."""
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NaT or x is pd.NA:
        return None
    text = str(privacy.mask_value(str(x))).replace("\x00", "\\0")
    return text if len(text) <= QUARANTINE_VALUE_CHARS else text[: QUARANTINE_VALUE_CHARS - 1] + "…"


def _prepare_chunk(spec: TableSpec, raw, notes: list[str], ctx: _Context) -> tuple:
    """Run the checks that need only the chunk itself: mapping, parsing, value and row rules (ahead, in a thread).

    ``notes`` is the loader's list for the first chunk of a file and a throwaway list for the others.
    """
    if raw.header_row > 1:
        notes.append(f"{ctx.fname}: {raw.header_row - 1} title row(s) above the header skipped")
    notes.extend(raw.notes)
    mapped = _map_columns(spec, raw.frame, ctx.fname, notes)
    issues: list[pd.DataFrame] = []
    counts: Counter = Counter()
    typed = _parse_columns(spec, mapped, ctx, issues, counts, raw.has_nul)
    if spec.name == "orders":
        neg_refund = (typed["amount"] < 0) & (typed["status"] == "refunded")
        if neg_refund.any():
            typed.loc[neg_refund, "amount"] = typed.loc[neg_refund, "amount"].abs()
            counts["negative refunds"] += int(neg_refund.sum())
    if spec.name == "contacts" and "removed_at" in typed.columns:
        # a removal after as_of is not known at as_of: the contact was still a friend then (not a bad row, and its
        # orders and touches must not become orphans)
        later = typed["removed_at"] > ctx.as_of
        if later.any():
            typed.loc[later, "removed_at"] = pd.NaT
            counts["after_as_of removed_at"] += int(later.sum())
    bad_idx = set().union(*(set(i["idx"]) for i in issues)) if issues else set()
    live = typed.drop(index=list(bad_idx))
    v = _validate_values(spec, live, ctx.as_of)
    if v is not None:
        issues.append(v)
    issues.extend(_row_rules(spec, live))
    return raw, typed, issues, counts


def _finish_chunk(
    spec: TableSpec,
    raw,
    typed: pd.DataFrame,
    issues: list[pd.DataFrame],
    seen: dict[str, _Seen],
    known_ids: dict[str, pd.Index],
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
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
    if len(raw.bad_rows):  # text rows that could not be split into fields: never in the frame
        broken = raw.bad_rows.assign(table=spec.name, column="*", idx=None)
        q = pd.concat([q, broken[["table", "idx", "column", "reason", "value", "row"]]], ignore_index=True)
    if raw.short_rows and len(q):  # a missing value because the row stops early: say so
        n = q["row"].map(raw.short_rows)
        short = n.notna() & (q["reason"] == "missing value")
        width = raw.frame.shape[1]
        q.loc[short, "reason"] = [f"missing value (the row has {int(k)} of {width} fields)" for k in n[short]]
    q["value"] = q["value"].map(_quarantine_value)
    kept = _finish_dtypes(spec, typed.drop(index=bad))
    return kept, q[QUARANTINE_COLUMNS], len(bad) + len(raw.bad_rows)


class _Unreadable(DataContractError):
    """A file that cannot be read at all: fatal for a required table, a skipped table (noted) for an optional one."""


def _file_plan(spec: TableSpec, raw, ctx: _Context) -> None:
    """Decide per file, from its first chunk, whether numbers in each time column are Excel serial dates."""
    aliases = spec.alias_map()
    for j, col in enumerate(raw.frame.columns):
        canon = aliases.get(normalize_column_name(col))
        if canon and spec.column(canon).kind in ("timestamp", "date") and canon not in ctx.serials:
            ctx.serials[canon] = parsing.serial_dates_likely(raw.frame.iloc[:, j])


def _prepared_chunks(
    spec: TableSpec, fpath: Path, chunk_rows: int, prepare, ctx: _Context, ahead: int = 2
) -> Iterator[tuple]:
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
            except UnreadableFile as err:
                raise _Unreadable(f"{fpath.name}: cannot be read: {err}") from None
            except (UnicodeDecodeError, ValueError, OSError, pyarrow.ArrowException) as err:
                raise _Unreadable(f"{fpath.name}: cannot be read ({type(err).__name__}: {err})") from None
            if first:
                if raw.frame.columns.empty:
                    raise _Unreadable(f"{fpath.name}: file is empty (no header row)")
                _file_plan(spec, raw, ctx)
            pending.append(pool.submit(prepare, raw, first))
            first = False
            if len(pending) > ahead:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def _file_notes(fname: str, name: str, counts: Counter) -> list[str]:
    """Load notes for what was changed but kept in one file."""
    out = []
    for k, n in sorted(counts.items()):
        if not n:
            continue
        kind, _, col = k.partition(" ")
        if k == "negative refunds":
            out.append(f"{fname}: {n:,} refunds written as negative amounts made positive")
        elif k == "empty status":
            out.append(f"{fname}: {n:,} empty status cells read as paid")
        elif kind == "truncated":
            cap = parsing.TEXT_MAX_CHARS
            out.append(f"{fname}: {n:,} {col} values longer than {cap} characters cut to {cap}")
        elif kind == "masked":
            out.append(f"{fname}: {n:,} phone numbers, WeChat ids, e-mails or card numbers masked in {col}")
        elif kind == "after_as_of":
            out.append(f"{fname}: {n:,} {col} after as_of read as empty (still a friend at as_of)")
        elif kind == "placeholder":
            meaning = " (still a friend)" if col == "removed_at" else ""
            out.append(
                f"{fname}: {n:,} {col} placeholder dates (such as 9999-12-31, 1970-01-01 or 0) read as empty{meaning}"
            )
        elif kind == "pseudonymised" and col in ALWAYS_PSEUDONYMISED:
            out.append(f"{fname}: {n:,} {col} values replaced by keyed pseudonyms (staff ids are names or phones)")
        elif kind == "pseudonymised":
            out.append(f"{fname}: {n:,} {col} values that are personal data replaced by keyed pseudonyms")
    return out


_ROW_REF = re.compile(r"\((?:first at )?row \d+\)|of row \d+")


def _all_quarantined_error(name: str, fname: str, read: int, q: pd.DataFrame, known_ids: dict) -> DataContractError:
    """Build the error for a required table none of whose rows survived, saying why (and what usually causes it)."""
    per_row = q.drop_duplicates("row")
    top = per_row["reason"].astype(str).str.replace(_ROW_REF, "", regex=True).str.strip().value_counts()
    why = "; ".join(f"{r} ({n:,})" for r, n in top.head(2).items())
    hint = ""
    if len(top) and str(top.index[0]).startswith("orphan user_id") and "contacts.user_id" in known_ids:
        ids = pd.Series(known_ids["contacts.user_id"].astype(str)).str.lstrip("0")
        orphan = q.loc[q["reason"].astype(str).str.startswith("orphan user_id"), "value"].dropna().astype(str)
        k = int(orphan.str.lstrip("0").isin(set(ids)).sum())
        if k and k >= len(orphan) / 2:
            hint = (
                f": {k:,} of them match a contact once leading zeros are ignored - did Excel strip the leading zeros "
                "from user_id? (format the column as text before exporting)"
            )
        else:
            hint = ": do contacts and orders come from the same system and period?"
    return DataContractError(f"{fname}: all {read:,} {name} rows are quarantined ({why}){hint}")


# --------------------------------------------------------------------------------------------------- load
def load(
    path: str | Path,
    *,
    as_of: str | pd.Timestamp | None = None,
    timezone: str = "Asia/Shanghai",
    key: bytes | None = None,
    demo: bool = False,
    tables: tuple[str, ...] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
    ingest: str = "auto",
    engine: str = "duckdb",
    catalog: Mapping[str, str] | None = None,
) -> Dataset:
    """Load and validate a folder of contract tables.

    Each file is read and validated in chunks of ``chunk_rows`` records; the next chunk is parsed in a worker
    thread while the current one is checked against earlier chunks. A table that fits in one chunk is kept in
    memory; a longer one is spooled chunk by chunk to a temporary Parquet file, so memory stays bounded by the
    chunk size (plus the contacts' ids and 16 bytes per row for duplicate detection across chunks).

    Identifiers that are personal data are replaced by keyed pseudonyms (:mod:`helpers.privacy`): phone numbers in
    any spelling, WeChat ids, e-mails and names in ``user_id`` / ``referrer_id``, every ``staff_id``, and any other
    id holding a phone number. Free-text labels are masked the same way; so is the quarantine.

    Parameters
    ----------
    path : str or Path
        Folder with files named after the tables: ``contacts.csv``, ``orders.xlsx``, ``touches.parquet`` …
    as_of : str or Timestamp, optional
        Reference time; later timestamps are quarantined as in the future. Default: now, in ``timezone``.
    timezone : str
        Time zone of naive timestamps and target of tz-aware ones.
    key : bytes, optional
        The pseudonymisation key. Default: :func:`helpers.privacy.pii_key` (``SIYU_PII_KEY`` or the local key
        file, created on first use). Never a parameter of a report: the notebook looks it up.
    demo : bool
        Use the public demo key: only for simulated data (a folder with the simulator's ``truth.json``).
    tables : tuple of str, optional
        Load only these tables (required tables are always loaded).
    chunk_rows : int
        Records validated at a time.
    workers : int, optional
        Processes that load the tables after ``contacts`` and ``campaigns`` (which every other table is checked
        against) side by side. Default: 2 when those files hold more than :data:`PARALLEL_BYTES` and the machine
        has two cores or more, else 1 (a process costs about a second to start). The result is the same.
    ingest : {"auto", "engine", "chunks"}
        Who validates a Parquet file: the engine (DuckDB, :mod:`helpers.ingest`) or the chunked pandas loader.
        ``auto``: the engine for Parquet files of :data:`helpers.ingest.ENGINE_BYTES` or more. Other files are
        always read in chunks. The result is the same.
    engine : {"duckdb", "pyspark"}
        The engine that validates the tables :mod:`helpers.ingest` takes. Same rules, same result.
    catalog : mapping, optional
        Tables read from Spark's catalog instead of ``path`` (``engine="pyspark"``), as ``"table:<database>.<name>"``:
        ``{"orders": "table:dw.orders"}``. Such a table must be stored as Parquet files (its rows are numbered
        file by file, in the order of the files' paths) and is always validated by the engine.

    Returns
    -------
    Dataset
        Clean tables, quarantine and accounting; ``read == kept + quarantined`` for every table.

    Raises
    ------
    DataContractError
        Missing folder, missing required table or column, ambiguous or unreadable file, a required table with no
        rows or none that survive the checks.
    helpers.privacy.PiiKeyError
        No usable key, or the demo key for data that are not simulated.
    """
    from helpers import ingest as engine_ingest  # imports this module

    if ingest not in ("auto", "engine", "chunks"):
        raise ValueError(f"ingest must be 'auto', 'engine' or 'chunks', not {ingest!r}")
    catalog = _checked_catalog(catalog, engine)
    folder = Path(path)
    if not folder.is_dir():
        raise DataContractError(f"data folder not found: {folder}")
    key = _checked_key(folder, key, demo)
    as_of_ts = pd.Timestamp(as_of) if as_of not in (None, "") else pd.Timestamp.now(tz=timezone).tz_localize(None)
    notes: list[str] = []
    files: dict[str, Path | str] = {**_contract_files(folder, notes, set(catalog)), **catalog}
    wanted = [t for t in LOAD_ORDER if t in files and (tables is None or t in tables or TABLES[t].required)]
    store = TableStore()
    known_ids: dict[str, pd.Index] = {}
    soft: dict[str, int] = {}
    spool_dir: list[Path] = []
    quarantine, accounting, sources, loaded = [], [], [], []
    in_engine = {t for t in wanted if t in catalog or _in_engine(ingest, files[t], engine)}
    con, known_tables = None, {}
    later = [t for t in wanted if t not in REFERENCED and t not in in_engine]
    workers = _workers(workers, [files[t] for t in later])
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    pending: dict[str, Future] = {}
    failed = True
    try:
        for name in wanted:
            spec, fpath = TABLES[name], files[name]
            ctx = _Context(fpath if isinstance(fpath, str) else fpath.name, timezone, as_of_ts, key)
            if pool is not None and name not in REFERENCED and not pending:  # the referenced tables are in
                if not spool_dir:
                    spool_dir.append(Path(tempfile.mkdtemp(prefix="siyu-load-")))
                job = (ctx.timezone, as_of_ts, key, known_ids, spool_dir[0], chunk_rows)
                pending = {t: pool.submit(_load_in_worker, t, files[t], *job) for t in later}
            try:
                if name in in_engine:
                    if con is None:
                        if not spool_dir:
                            spool_dir.append(Path(tempfile.mkdtemp(prefix="siyu-load-")))
                        size = sum(files[t].stat().st_size for t in in_engine if isinstance(files[t], Path))
                        con = engine_ingest.connect(spool_dir[0], engine, memory=engine_ingest.memory_for(size))
                    args = (ctx, notes, store, known_ids, soft, spool_dir[0], known_tables)
                    q, acc, source = engine_ingest.load_table(con, spec, fpath, *args)
                elif name in pending:
                    q, acc, source = _take_worker_result(pending[name].result(), notes, store, soft)
                else:
                    q, acc, source = _load_table(spec, fpath, ctx, notes, store, known_ids, soft, spool_dir, chunk_rows)
            except _Unreadable as err:
                if spec.required:
                    raise DataContractError(str(err)) from None
                notes.append(f"{err}; optional table {name!r} skipped")
                continue
            except DataContractError:
                raise
            except Exception as err:  # a loader bug must not put a cell value into a traceback: masked, one line
                raise DataContractError(
                    f"{ctx.fname}: the loader failed on this file ({type(err).__name__}: {err})"
                ) from None
            quarantine.extend(q)
            accounting.append(acc)
            sources.append(source)
            loaded.append(fpath)
        _check_across_tables(store, known_ids, soft, notes)
        failed = False
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if con is not None:
            con.disconnect()
        if failed and spool_dir:  # a failed load leaves no spooled tables behind
            shutil.rmtree(spool_dir[0], ignore_errors=True)
    kid = privacy.key_id(key)
    notes.append(
        "pseudonyms keyed with the public demo key (simulated data only)"
        if kid == "demo"
        else f"pseudonyms keyed with key {kid} (the same key gives the same pseudonyms in every run)"
    )
    ds = Dataset(
        tables=store,
        quarantine=_quarantine_frame(quarantine),
        accounting=pd.DataFrame(accounting, columns=ACCOUNTING_COLUMNS),
        notes=[_one_line(n) for n in notes],
        as_of=as_of_ts,
        fingerprint=_fingerprint(loaded),
        sources=pd.DataFrame(sources),
        key_id=kid,
    )
    if spool_dir:
        weakref.finalize(ds, shutil.rmtree, spool_dir[0], True)
    return ds


#: Tables the others are checked against (orphans, soft references): loaded first, in this process.
REFERENCED = frozenset({"contacts", "campaigns"})
#: Bytes of the other tables' files above which they are loaded in two processes.
PARALLEL_BYTES = 64 * 2**20


def _checked_catalog(catalog: Mapping[str, str] | None, engine: str) -> dict[str, str]:
    """Check :func:`load`'s ``catalog``: contract tables mapped to ``table:<database>.<name>``, on Spark."""
    from helpers.engine import ENGINES, checked_catalog

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    catalog = checked_catalog(catalog)
    if catalog and engine != "pyspark":
        raise DataContractError(f"tables in a catalog ({', '.join(catalog)}) are read by engine='pyspark'")
    return catalog


def _in_engine(ingest: str, fpath: Path, engine: str = "duckdb") -> bool:
    """Whether the engine validates ``fpath`` (see :func:`load`'s ``ingest``)."""
    from helpers import ingest as engine_ingest

    if ingest == "chunks" or not engine_ingest.engine_readable(fpath, engine):
        return False
    return ingest == "engine" or fpath.stat().st_size >= engine_ingest.ENGINE_BYTES


def _workers(workers: int | None, paths: list[Path]) -> int:
    """Return how many processes load the tables after contacts and campaigns (2 for large files)."""
    if workers is not None:
        return max(1, min(int(workers), len(paths)))
    big = sum(p.stat().st_size for p in paths) > PARALLEL_BYTES
    return 2 if big and (os.cpu_count() or 1) > 1 and len(paths) > 1 else 1


def _load_in_worker(
    name: str,
    fpath: Path,
    timezone: str,
    as_of: pd.Timestamp,
    key: bytes,
    known_ids: dict,
    spool: Path,
    chunk_rows: int,
) -> tuple:
    """Load one table in a worker process: what :func:`_load_table` adds to the loader's state, returned."""
    notes: list[str] = []
    store, soft = TableStore(), {}
    ctx = _Context(fpath.name, timezone, as_of, key)
    q, acc, source = _load_table(TABLES[name], fpath, ctx, notes, store, known_ids, soft, [spool], chunk_rows)
    return q, acc, source, notes, store.frames, store.paths, soft


def _take_worker_result(result: tuple, notes: list[str], store: TableStore, soft: dict) -> tuple:
    """Add a worker's notes, tables and soft-reference counts to the loader's.

    Returns the worker's quarantine parts, accounting row and source row, as :func:`_load_table` does.
    """
    q, acc, source, table_notes, frames, paths, table_soft = result
    notes.extend(table_notes)
    store.frames.update(frames)
    store.paths.update(paths)
    for k, n in table_soft.items():
        soft[k] = soft.get(k, 0) + n
    return q, acc, source


def _checked_key(folder: Path, key: bytes | None, demo: bool) -> bytes:
    """Return the pseudonymisation key; the public demo key only for the simulator's data."""
    if key is not None and demo:
        raise privacy.PiiKeyError("pass either key= or demo=True, not both")
    key = privacy.check_key(privacy.pii_key(demo=demo) if key is None else key)
    if privacy.is_demo_key(key) and not _is_simulated(folder):
        raise privacy.PiiKeyError(
            f"{folder.name}: the public demo key is only for the simulated sample (no simulator truth.json here); "
            "load your data with your own key (privacy.pii_key())"
        )
    return key


def _contract_files(folder: Path, notes: list[str], elsewhere: set[str] = frozenset()) -> dict[str, Path]:
    """Return the file of each contract table in ``folder``; a missing required table is an error, the rest notes.

    Tables in ``elsewhere`` (read from a catalog) are not looked for; a file of one of them is an error.
    """
    files, unsupported, ignored = _find_files(folder)
    if ignored:
        notes.append(f"files not in the contract ignored: {', '.join(ignored)}")
    twice = sorted(elsewhere & set(files))
    if twice:
        raise DataContractError(
            f"{folder}: {', '.join(files[t].name for t in twice)} also given as catalog tables; keep one source"
        )
    for name, spec in TABLES.items():
        if spec.required and name not in files and name not in elsewhere:
            if name in unsupported:
                p, why = unsupported[name]
                raise DataContractError(f"{folder}: required table {name!r} not found: {p.name} is not read ({why})")
            exts = ", ".join(f"{name}{s}" for s in (".csv", ".xlsx", ".parquet", ".csv.gz", ".zip"))
            raise DataContractError(f"{folder}: required table {name!r} not found (expected one of {exts})")
    for name, (p, why) in unsupported.items():
        if name not in files and name not in elsewhere:
            notes.append(f"{p.name}: not read ({why}); optional table {name!r} skipped")
    return files


def _check_across_tables(store: TableStore, known_ids: dict, soft: dict, notes: list[str]) -> None:
    """Split contacts into relationships and count soft references (referrers, campaigns) once every table is in."""
    if "contacts" in store:
        _split_relationships(store, notes)
        cols = ["referrer_id", "campaign_id"]  # contacts load before campaigns, and referrers need every contact
        cpath = store.path("contacts")
        refs = store["contacts"][cols] if cpath is None else pd.read_parquet(cpath, columns=cols)
        _soft_reference_counts("contacts", refs, known_ids, soft)
    notes.extend(_soft_reference_notes(soft))


def _quarantine_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One quarantine table, sorted by table and source row."""
    qdf = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    qdf = qdf.sort_values(["table", "row"], kind="stable").reset_index(drop=True)
    qdf["row"] = qdf["row"].astype("int64")
    for c in ("table", "column", "reason", "value"):  # text, also when empty
        qdf[c] = qdf[c].astype(object)
    return qdf


def _load_table(
    spec: TableSpec,
    fpath: Path,
    ctx: _Context,
    notes: list[str],
    store: TableStore,
    known_ids: dict[str, pd.Index],
    soft: dict[str, int],
    spool_dir: list[Path],
    chunk_rows: int,
) -> tuple[list[pd.DataFrame], dict, dict]:
    """Load one table into ``store``; return its quarantine parts, accounting row and source row."""
    name = spec.name
    read = kept_n = bad_n = 0
    counts: Counter = Counter()
    seen = {"exact": _Seen(), "key": _Seen()}
    id_parts: list[np.ndarray] = []
    ref_col = {"contacts": "user_id", "campaigns": "campaign_id"}.get(name)  # ids later tables reference
    kept_chunks: list[pd.DataFrame] = []
    quarantine: list[pd.DataFrame] = []
    file_notes: list[str] = []
    spool: _Spool | None = None
    source: dict = {}

    def prepare(raw, first: bool) -> tuple:
        return _prepare_chunk(spec, raw, file_notes if first else [], ctx)

    try:
        for raw, typed, issues, chunk_counts in _prepared_chunks(spec, fpath, chunk_rows, prepare, ctx):
            if not source:
                source = {"table": name, "file": fpath.name, "encoding": raw.encoding, "header_row": raw.header_row}
            kept, q, n_bad = _finish_chunk(spec, raw, typed, issues, seen, known_ids)
            counts.update(chunk_counts)
            quarantine.append(q)
            if ref_col:
                id_parts.append(kept[ref_col].dropna().to_numpy(dtype=object))
            if name not in ("contacts", "campaigns"):  # campaigns are complete by now: count unknown campaign ids
                _soft_reference_counts(name, kept, known_ids, soft)
            kept_chunks.append(kept)
            if len(kept_chunks) > 1 or spool is not None:  # a second chunk: stream this table to disk from now on
                if spool is None:
                    if not spool_dir:
                        spool_dir.append(Path(tempfile.mkdtemp(prefix="siyu-load-")))
                    spool = _Spool(spool_dir[0] / f"{name}.parquet")
                for k in kept_chunks:
                    spool.write(k)
                kept_chunks = []
            n_raw = len(raw.frame) + len(raw.bad_rows)
            read += n_raw
            kept_n += len(kept)
            bad_n += n_bad
            if n_raw != len(kept) + n_bad:  # pragma: no cover - an invariant, not a branch
                raise AssertionError(f"{name}: row accounting broken ({n_raw} != {len(kept)} + {n_bad})")
    except BaseException:
        if spool is not None:
            spool.close()
            spool.path.unlink(missing_ok=True)
        raise
    if spec.required and read == 0:
        raise DataContractError(f"{fpath.name}: required table {name!r} has no rows")
    if spec.required and kept_n == 0:
        raise _all_quarantined_error(name, fpath.name, read, pd.concat(quarantine, ignore_index=True), known_ids)
    if id_parts:  # ids later tables reference: known once their table is complete
        known_ids[f"{name}.{ref_col}"] = pd.Index(np.concatenate(id_parts)).unique()
    if spool is not None:
        spool.close()
        store.paths[name] = spool.path
    else:
        store.frames[name] = kept_chunks[0]
    notes.extend(file_notes)
    notes.extend(_file_notes(fpath.name, name, counts))
    return quarantine, {"table": name, "file": fpath.name, "read": read, "kept": kept_n, "quarantined": bad_n}, source
