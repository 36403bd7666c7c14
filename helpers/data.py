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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from helpers import parsing
from helpers.contract import ADD_WAY, ENUM_ALIASES, PII_COLUMNS, TABLES, TableSpec, normalize_column_name
from helpers.readers import SUPPORTED_SUFFIXES, read_raw

__all__ = ["DataContractError", "Dataset", "load", "LOAD_ORDER", "hash_pii"]

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


@dataclass
class Dataset:
    """Validated contract tables with their quarantine and row accounting.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Clean tables, canonical columns and dtypes.
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

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    accounting: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    as_of: pd.Timestamp | None = None
    fingerprint: str = ""
    sources: pd.DataFrame | None = None

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
        for name, df in self.tables.items():
            # microseconds: Spark cannot read nanosecond Parquet timestamps
            df.to_parquet(
                clean / f"{name}.parquet", index=False, coerce_timestamps="us", allow_truncated_timestamps=True
            )
        self.quarantine.to_csv(quality / "quarantine.csv", index=False)
        self.accounting.to_csv(quality / "accounting.csv", index=False)
        manifest = {
            "as_of": str(self.as_of),
            "fingerprint": self.fingerprint,
            "tables": {k: int(len(v)) for k, v in self.tables.items()},
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


def _duplicates(spec: TableSpec, df: pd.DataFrame, rows: pd.Series) -> list[pd.DataFrame]:
    out = []
    if df.empty:
        return out
    live = df
    if spec.exact_duplicates:
        dup = live.duplicated(keep=False)
        if dup.any():
            d = live[dup]
            first_row = d.groupby(list(d.columns), dropna=False, sort=False).ngroup()
            firsts = rows.loc[d.index].groupby(first_row.to_numpy()).transform("min")
            later = d.index[rows.loc[d.index].to_numpy() != firsts.to_numpy()]
            reasons = "exact duplicate of row " + firsts.loc[later].astype(str)
            out.append(_issue(later, "*", reasons.to_numpy(), None))
            live = live.drop(index=later)
    if spec.key:
        key = list(spec.key)
        dup = live.duplicated(subset=key, keep="first")
        if dup.any():
            first_rows = rows.loc[live.index].groupby([live[k] for k in key], dropna=False, sort=False).transform("min")
            later = live.index[dup]
            label = "+".join(key)
            keyval = live.loc[later, key].astype(str).agg("|".join, axis=1)
            reasons = f"duplicate {label} (first at row " + first_rows.loc[later].astype(str) + ")"
            out.append(_issue(later, label, reasons.to_numpy(), keyval))
    return out


def _orphans(spec: TableSpec, df: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    out = []
    for col, ref in spec.references.items():
        rt, rc = ref.split(".")
        if rt not in tables:
            continue
        known = pd.Index(tables[rt][rc].dropna().unique())
        m = df[col].notna() & ~df[col].isin(known)
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
        m = s.notna() & s.astype("string").str.fullmatch(r"1[3-9]\d{9}", na=False)
        if m.any():
            df.loc[m, c.name] = s[m].map(lambda v: hash_pii(v, salt))
            n += int(m.sum())
    return n


def _soft_reference_notes(tables: dict[str, pd.DataFrame]) -> list[str]:
    """List references that are checked but not quarantined: unknown referrers and campaigns."""
    out = []
    c = tables["contacts"]
    unknown_ref = c["referrer_id"].notna() & ~c["referrer_id"].isin(c["user_id"])
    if unknown_ref.any():
        out.append(
            f"contacts: {int(unknown_ref.sum())} referrer_id values are not contacts (kept; referrers may have left)"
        )
    if "campaigns" in tables:
        known = set(tables["campaigns"]["campaign_id"].dropna())
        for name, df in tables.items():
            if name != "campaigns" and "campaign_id" in df.columns:
                miss = df["campaign_id"].notna() & ~df["campaign_id"].isin(known)
                if miss.any():
                    out.append(f"{name}: {int(miss.sum())} rows name a campaign_id not in campaigns (kept)")
    return out


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


# --------------------------------------------------------------------------------------------------- load
def load(
    path: str | Path,
    *,
    as_of: str | pd.Timestamp | None = None,
    timezone: str = "Asia/Shanghai",
    pii_salt: str = "",
    tables: tuple[str, ...] | None = None,
) -> Dataset:
    """Load and validate a folder of contract tables.

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
    clean: dict[str, pd.DataFrame] = {}
    quarantine, accounting, sources = [], [], []
    for name in wanted:
        spec, fpath = TABLES[name], files[name]
        try:
            raw = read_raw(fpath, set(spec.alias_map()))
        except (UnicodeDecodeError, ValueError, OSError) as err:
            raise DataContractError(f"{fpath.name}: cannot be read ({type(err).__name__}: {err})") from None
        if raw.frame.columns.empty:
            raise DataContractError(f"{fpath.name}: file is empty (no header row)")
        if raw.header_row > 1:
            notes.append(f"{fpath.name}: {raw.header_row - 1} title row(s) above the header skipped")
        mapped = _map_columns(spec, raw.frame, fpath.name, notes)
        issues: list[pd.DataFrame] = []
        typed = _parse_columns(spec, mapped, timezone, issues)
        if name == "orders":
            neg_refund = (typed["amount"] < 0) & (typed["status"] == "refunded")
            if neg_refund.any():
                typed.loc[neg_refund, "amount"] = typed.loc[neg_refund, "amount"].abs()
                notes.append(f"{fpath.name}: {int(neg_refund.sum())} refunds written as negative amounts made positive")
        n_pii = _pseudonymise_ids(typed, spec, pii_salt)
        if n_pii:
            notes.append(f"{fpath.name}: {n_pii} phone-number user ids replaced by salted pseudonyms")
        bad_idx = set().union(*(set(i["idx"]) for i in issues)) if issues else set()
        live = typed.drop(index=list(bad_idx))
        v = _validate_values(spec, live, as_of_ts)
        if v is not None:
            issues.append(v)
        issues.extend(_row_rules(spec, live))
        bad_idx = set().union(*(set(i["idx"]) for i in issues)) if issues else set()
        live = typed.drop(index=list(bad_idx))
        issues.extend(_duplicates(spec, live, raw.rows))
        issues.extend(_orphans(spec, live, clean))
        cols = ["idx", "column", "reason", "value"]
        q = pd.DataFrame({k: np.concatenate([i[k].to_numpy(dtype=object) for i in issues] or [[]]) for k in cols})
        bad = pd.Index(q["idx"].unique())
        q.insert(0, "table", name)
        q["row"] = raw.rows.loc[q["idx"].to_numpy()].to_numpy() if len(q) else np.array([], dtype="int64")
        q["value"] = q["value"].map(lambda x: None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))
        q["value"] = q["value"].map(_mask_pii_text).map(lambda x: x[:200] if isinstance(x, str) else x)
        quarantine.append(q[QUARANTINE_COLUMNS])
        kept = _finish_dtypes(spec, typed.drop(index=bad))
        clean[name] = kept
        read = len(raw.frame)
        accounting.append({"table": name, "file": fpath.name, "read": read, "kept": len(kept), "quarantined": len(bad)})
        sources.append({"table": name, "file": fpath.name, "encoding": raw.encoding, "header_row": raw.header_row})
        if read != len(kept) + len(bad):  # pragma: no cover - an invariant, not a branch
            raise AssertionError(f"{name}: row accounting broken ({read} != {len(kept)} + {len(bad)})")
        if spec.required and read == 0:
            raise DataContractError(f"{fpath.name}: required table {name!r} has no rows")
    notes.extend(_soft_reference_notes(clean))
    qdf = pd.concat(quarantine, ignore_index=True) if quarantine else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    qdf = qdf.sort_values(["table", "row"], kind="stable").reset_index(drop=True)
    qdf["row"] = qdf["row"].astype("int64")
    return Dataset(
        tables=clean,
        quarantine=qdf,
        accounting=pd.DataFrame(accounting, columns=ACCOUNTING_COLUMNS),
        notes=notes,
        as_of=as_of_ts,
        fingerprint=_fingerprint([files[t] for t in wanted]),
        sources=pd.DataFrame(sources),
    )
