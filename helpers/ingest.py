"""Validate a large Parquet table inside the engine: the loader's contract, run by DuckDB or Spark through ibis.

:func:`helpers.data.load` reads most files through pandas in chunks. A Parquet file of many rows goes here instead
(``ingest="auto"``: files from :data:`ENGINE_BYTES` up), and so does a table in Spark's catalog: the engine reads
it, and the same contract produces the same clean table, quarantine, accounting and notes. The rules are ibis
expressions written once; what differs between engines (numbering source rows, keeping a staging table, fetching
and writing rows) is in :class:`_DuckDB` and :class:`_Spark`.

How a cell is read
    A cell that is already in its clean form is taken by the engine as it is: an ASCII id that holds no personal
    data (not a phone number, WeChat id, e-mail or ID-card number, not a missing marker, not scientific notation)
    and a timestamp stored as a timestamp between 1971 and 2099. Every other *distinct* value of the column is read
    once by the loader's own cell parser (``helpers.data._parse_one``: amounts, enums, labels, pseudonyms, masks)
    and joined back on the value. A cell therefore gets exactly the value and the reason the chunked loader gives
    it, and a column of a few thousand spellings costs a few thousand parses, not millions.

Which rows are quarantined (the same rules, in the same order, as the chunked loader)
    1. a cell the parser rejects (its reason);
    2. among the rest: a missing required value, a negative amount, a timestamp after ``as_of``, and the
       cross-field rules of :data:`helpers.data.ROW_RULES`;
    3. among the rest: an exact duplicate of an earlier row, then a duplicate key (window functions: the earliest
       source row is kept), and an id the referenced table does not have (an orphan).

Rows read = rows kept + rows quarantined, counted by the engine. Kept rows are written by the engine to Parquet in
source order; only the quarantined rows and the distinct values to parse enter pandas.

Long tables
    On DuckDB a table of more than :data:`PART_ROWS` rows is parsed and given the one-row rules (1 and 2) in parts
    of source rows, each sorted back into source order and spooled on its own; the rules that compare rows (3) then
    run once over all the parts, and each part's kept rows are appended to the clean file in order. The result is
    the same as checking the table whole (tested with parts of a few rows); memory and spill grow with a part
    instead of the table.
"""

from __future__ import annotations

import copy
import itertools
import shutil
from collections import Counter
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers import data, parsing, privacy, readers
from helpers.base import total_ram
from helpers.contract import Column, DataContractError, TableSpec

__all__ = ["ENGINE_BYTES", "connect", "engine_readable", "load_table"]

#: Parquet files from this size up are validated by the engine when ``ingest="auto"``. Measured at 1 M contacts:
#: 4 MiB (every table but campaigns, spend, staff and assignments in the engine) loads in 54.4 s against 66.5 s at
#: 32 MiB; on the sample converted to Parquet (9 MB, every file under 1 MB) the engine took 4.5 s against 2.4 s.
ENGINE_BYTES = 4 * 2**20
#: An id the engine takes as it is: ASCII letters, digits, ``_`` and ``-`` (NFKC and trimming leave it unchanged).
PLAIN_ID = r"^[0-9A-Za-z_-]+$"
_ROW = "file_row_number"
#: DuckDB's working memory while validating (it spills to the spool folder beyond it), at least. Measured on the
#: 1 M-contact data: no limit 41.0 s at a 5.43 GiB peak (DuckDB takes 80 % of RAM by default), 3GB 46.3 s /
#: 3.99 GiB, 2GB 47.6 s / 2.60 GiB. :func:`memory_for` raises it for larger inputs.
MEMORY = "2GB"
#: Working memory per byte of Parquet input, and the share of the machine's RAM it may take at most. At 10 M
#: contacts (3.3 GB of Parquet) a 2 GB limit spilled more than 33 GB to disk validating orders alone and was
#: stopped after 5 minutes; 8 GB validated contacts and orders (66 M rows) in 172.9 s, spilling 8.3 GB at a
#: 9.1 GiB peak.
MEMORY_PER_BYTE, MEMORY_SHARE = 2.5, 0.4


def memory_for(input_bytes: int, ram: int | None = None) -> str:
    """Return DuckDB's memory limit for validating ``input_bytes`` of Parquet: :data:`MEMORY`, more for large inputs.

    >>> memory_for(300 * 10**6, ram=24 * 2**30), memory_for(3_300 * 10**6, ram=24 * 2**30)
    ('2GB', '8250MB')
    >>> memory_for(10**11, ram=24 * 2**30)  # never more than 40 % of the machine
    '10307MB'
    """
    if ram is None:
        ram = total_ram()
    floor = int(MEMORY.removesuffix("GB")) * 10**9
    want = min(max(floor, int(MEMORY_PER_BYTE * input_bytes)), int(MEMORY_SHARE * ram))
    return MEMORY if want <= floor else f"{want // 10**6}MB"


#: A table of more rows than this is parsed and checked row by row in parts of at most this many rows (on DuckDB):
#: each part is sorted back into source order and spooled on its own, so the engine's memory and spill grow with
#: a part, not with the table; the rules that compare rows (duplicates, orphans) then run once over all parts.
#: Measured on the 1 M-contact touches (20.4 M rows) at an 800 MB limit, the 10 M run's memory per row: sorting the
#: parsed table whole spilled 1.19 GB; in 4 M-row parts, 0.07 GB. At 10 M contacts the whole-table path spilled past
#: 40 GB on touches (204 M rows).
PART_ROWS = 25_000_000
#: Quarantined rows up to this many are left out of the clean table by a list in the query (no join, no sort).
FEW_ROWS = 10_000
_SEP = "\x1f"  # between several reasons of one value (the parser gives at most one; NUL bytes add another)
_counter = itertools.count()


class _DuckDB:
    """DuckDB: files read with their record numbers, staging tables in memory (spilling to the spool folder)."""

    name = "duckdb"

    def __init__(self, spool: Path, threads: int | None = None, memory: str = MEMORY) -> None:
        self.con = ibis.duckdb.connect()
        self.con.raw_sql(f"SET temp_directory = '{spool}'")
        self.con.raw_sql(f"SET memory_limit = '{memory}'")
        self.con.raw_sql("SET preserve_insertion_order = true")
        if threads:
            self.con.raw_sql(f"SET threads = {int(threads)}")

    def read(self, source: Path | str) -> ir.Table:
        """Return the source table with ``file_row_number`` (0-based record number in the file)."""
        if isinstance(source, str):
            raise DataContractError(f"{source}: catalog tables are read by engine='pyspark'")
        return self.con.read_parquet(source, table_name=_name("raw"), file_row_number=True)

    def arrow(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` and return its rows as Arrow."""
        return expr.to_pyarrow()

    def put(self, table: pa.Table, kind: str = "map") -> ir.Table:
        """Return an Arrow table as an engine table."""
        return self.con.create_table(_name(kind), table, temp=True)

    def keep(self, expr: ir.Table, kind: str) -> ir.Table:
        """Run ``expr`` once and keep its rows (in their order) for the queries that follow."""
        return self.con.create_table(_name(kind), expr, temp=True)

    def write(self, expr: ir.Table, out: Path) -> ir.Table:
        """Write ``expr`` (in its order) to one Parquet file and return it read back."""
        self.write_file(expr, out)
        return self.read_files([out], "kept")

    def write_file(self, expr: ir.Table, out: Path) -> None:
        """Write ``expr`` (in its order) to one Parquet file, as :meth:`write` does, without reading it back."""
        self.con.to_parquet(expr, out, compression="zstd")

    def read_files(self, files: list[Path], kind: str) -> ir.Table:
        """Return Parquet files this load wrote as one table."""
        return self.con.read_parquet([str(f) for f in files], table_name=_name(kind))

    def drop_staging(self) -> None:
        """Drop the engine tables and views made for one table (all but the known ids)."""
        for kind, sql in (("table", "tables"), ("view", "views")):
            q = f"SELECT {kind}_name FROM duckdb_{sql}() WHERE {kind}_name LIKE '_siyu_%'"
            for (name,) in self.con.raw_sql(q).fetchall():
                if not name.startswith("_siyu_known"):
                    self.con.raw_sql(f'DROP {kind.upper()} IF EXISTS "{name}"')

    def disconnect(self) -> None:
        self.con.disconnect()


class _Spark:
    """Spark: record numbers from each Parquet file's own row index, staging tables as cached temporary views.

    A table made of several files (a Spark output folder, a catalog table) numbers its records file by file in
    the order of the files' paths, as the files of a folder are read.
    """

    name = "pyspark"

    def __init__(self, spool: Path) -> None:
        from helpers.engine import spark_session

        self.session = spark_session()
        self.con = ibis.pyspark.connect(self.session)
        self.views: list[str] = []  # one table's staging views
        self.known: list[str] = []  # the known ids, kept for the next tables

    def _view(self, df, kind: str, cache: bool = False) -> ir.Table:
        name = _name(kind)
        df.createOrReplaceTempView(name)
        if cache:
            self.session.catalog.cacheTable(name)
        (self.known if kind == "known" else self.views).append(name)
        return self.con.table(name)

    def read(self, source: Path | str) -> ir.Table:
        """Return the source (Parquet file or folder, ``table:<db>.<name>``) with ``file_row_number``."""
        from pyspark.sql import functions as F

        from helpers.engine import CATALOG_PREFIX

        if isinstance(source, str) and source.startswith(CATALOG_PREFIX):
            df = self.session.table(source[len(CATALOG_PREFIX) :])
        else:
            df = self.session.read.parquet(str(source))
        cols = [F.col("`" + c.replace("`", "``") + "`") for c in df.columns]
        try:
            df = df.select(*cols, F.col("_metadata.file_path").alias("_file"), F.col("_metadata.row_index").alias(_ROW))
        except Exception as err:  # a view or a table not stored as files has no record numbers
            raise DataContractError(f"{source}: not stored as Parquet files, so its rows have no numbers") from err
        counts = dict(df.groupBy("_file").count().collect())  # one pass: the files and their rows
        files = sorted(counts)
        if len(files) > 1:  # numbered on: each file starts after the rows of the files before it
            starts = np.cumsum([0] + [counts[f] for f in files[:-1]]).tolist()
            offsets = self.session.createDataFrame(list(zip(files, starts, strict=True)), "_file string, _start long")
            df = df.join(F.broadcast(offsets), "_file").withColumn(_ROW, F.col(_ROW) + F.col("_start")).drop("_start")
        return self._view(df.drop("_file"), "raw")

    def arrow(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` and return its rows as Arrow (Spark's own Arrow path: no pandas, so 9999-12-31 survives)."""
        return self.session.sql(self.con.compile(expr)).toArrow()

    def put(self, table: pa.Table, kind: str = "map") -> ir.Table:
        """Return an Arrow table as a cached temporary view."""
        return self._view(self.session.createDataFrame(table), kind, cache=True)

    def keep(self, expr: ir.Table, kind: str) -> ir.Table:
        """Cache ``expr``'s rows for the queries that follow (Spark keeps no order: readers sort by record)."""
        return self._view(self.session.sql(self.con.compile(expr)), kind, cache=True)

    def write(self, expr: ir.Table, out: Path) -> ir.Table:
        """Write ``expr`` to a Parquet folder (part files in ``expr``'s order) and return it read back."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import TimestampType

        df = self.session.sql(self.con.compile(expr))
        # wall-clock timestamps, as the contract's (Spark's own type is an instant, written as INT96)
        naive = [
            F.col(f.name).cast("timestamp_ntz") if isinstance(f.dataType, TimestampType) else F.col(f.name)
            for f in df.schema
        ]
        df.select(*naive).write.parquet(str(out), compression="zstd")
        name = _name("kept")
        self.views.append(name)
        return self.con.read_parquet(out, table_name=name)

    def drop_staging(self) -> None:
        """Drop the temporary views made for one table (all but the known ids); dropping uncaches them."""
        for name in self.views:
            self.session.catalog.dropTempView(name)
        self.views.clear()

    def disconnect(self) -> None:
        """Drop every view this load made, the known ids too; the Spark session stays for the report."""
        self.views.extend(self.known)
        self.known.clear()
        self.drop_staging()


def connect(spool: Path, engine: str = "duckdb", threads: int | None = None, memory: str = MEMORY):
    """Return the engine that validates tables: DuckDB (spilling to ``spool`` beyond ``memory``) or Spark."""
    if engine == "pyspark":
        return _Spark(spool)
    if engine != "duckdb":
        raise ValueError(f"engine must be 'duckdb' or 'pyspark', not {engine!r}")
    return _DuckDB(spool, threads, memory)


def engine_readable(fpath: Path, engine: str = "duckdb") -> bool:
    """Whether the engine path reads ``fpath``: a Parquet file of flat columns without a stored pandas index.

    Spark reads no nanosecond timestamps: such a file is read in chunks on Spark.

    >>> engine_readable(Path("orders.csv"))
    False
    """
    if fpath.suffix.lower() != ".parquet":
        return False
    try:
        schema = pq.read_schema(fpath)
    except (pa.ArrowException, OSError):
        return False  # the chunked loader says why it cannot be read
    meta = schema.pandas_metadata or {}
    if any(isinstance(i, str) for i in meta.get("index_columns", [])):
        return False
    if not len(schema):
        return False  # no columns: the chunked loader says the file is empty
    flat = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_floating)
    stamps = ("s", "ms", "us") if engine == "pyspark" else ("s", "ms", "us", "ns")
    stamp = lambda t: pa.types.is_timestamp(t) and t.tz is None and t.unit in stamps  # noqa: E731
    return all(any(f(t) for f in flat) or stamp(t) or pa.types.is_null(t) for t in schema.types)


def _name(kind: str) -> str:
    return f"_siyu_{kind}_{next(_counter)}"


def _to_pandas(column: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Distinct raw values as the chunked loader sees them (the same Arrow-to-pandas conversion)."""
    t = readers._safe_timestamps(pa.table({"v": column}))
    return t.to_pandas(types_mapper=readers._arrow_strings)["v"]


def _ibis_type(c: Column) -> str:
    if c.kind in ("timestamp", "date"):
        return "timestamp(6)"
    return "float64" if c.kind == "money" else "string"


def _plain(c: Column, r: ir.Column) -> ir.BooleanColumn | None:
    """Cells the engine takes as they are (``None``: every value goes through the parser)."""
    t = r.type()
    if c.kind == "id" and t.is_string() and data._id_mode(c.name) != "all":
        lower = r.lower()
        return r.isnull() | (
            r.re_search(PLAIN_ID)
            & ~lower.isin(sorted(parsing._MISSING))
            & ~r.re_search(parsing._SCI.pattern.replace("e", "[eE]"))
            & ~r.re_search(privacy.ID_CANDIDATE_RE2)
            & (r.length() <= parsing.ID_MAX_CHARS)
        )
    if c.kind == "timestamp" and t.is_timestamp() and t.timezone is None:
        lo, hi = parsing.PLACEHOLDER_BEFORE.to_pydatetime(), parsing.PLACEHOLDER_FROM.to_pydatetime()
        return r.isnull() | ((r >= lo) & (r < hi))
    return None


def _mapping(c: Column, values: pa.ChunkedArray, ctx, derive=None) -> tuple[pa.Table, list[str]]:
    """Parse each distinct raw value once: its clean value, reasons, quarantine display and load-note counts."""
    s = _to_pandas(values)
    if derive is not None:
        s = derive(s)
    v, problems, changed = data._parse_one(c, s, ctx, has_nul=True)  # a NUL byte is looked for in every value
    reasons = pd.Series([[] for _ in range(len(s))], index=s.index, dtype=object)
    for problem, m in problems.items():
        for i in np.flatnonzero(m.to_numpy()):
            reasons.iloc[i].append(data._reason(c, problem))
    hide = problems.get(parsing.ID_TOO_LONG, pd.Series(False, index=s.index)).to_numpy()
    shown = [None if (h or _missing(x)) else str(x) for x, h in zip(s.astype(object).tolist(), hide, strict=True)]
    if c.kind in ("timestamp", "date"):
        clean = pa.array(pd.to_datetime(v).astype("datetime64[us]"), type=pa.timestamp("us"), from_pandas=True)
    elif c.kind == "money":
        clean = pa.array(pd.to_numeric(v).astype("float64"), type=pa.float64(), from_pandas=True)
    else:
        clean = pa.array(v.astype(object).to_numpy(), type=pa.string(), from_pandas=True)
    keys = sorted(changed)
    cols = {
        "v": values,
        "value": clean,
        "reason": pa.array([_SEP.join(r) if r else None for r in reasons], type=pa.string()),
        "shown": pa.array(shown, type=pa.string()),
    }
    for i, k in enumerate(keys):
        cols[f"n{i}"] = pa.array(changed[k].astype("int64").to_numpy(), type=pa.int64())
    return pa.table(cols), keys


def _missing(x: object) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and np.isnan(x))


class _Staged:
    """One table on its way through the rules: the expression and the names of its per-column parts."""

    def __init__(self, raw: ir.Table) -> None:
        self.t = raw
        self.count_keys: dict[str, str] = {}  # load-note key -> column holding the count per row
        self.rules: list[tuple[str, str, str]] = []  # (flag column, reported column, kind) in quarantine order
        self.orphans: list[str] = []  # flag columns of the orphan checks
        self.reasons: list[str] = []  # columns some of whose values have a problem


def _parse_in_engine(eng, spec: TableSpec, raw: ir.Table, keep: dict, ctx) -> _Staged:
    """Select the clean value of every contract column, parsed as the chunked loader parses it.

    Adds ``<col>__reason`` / ``<col>__shown`` where some value has a problem and ``<col>__n<i>`` where some value
    was changed (the load-note counts).
    """
    source = {canon: col for col, canon in keep.items()}
    t = raw.select(_ROW, *[raw[col].name(f"_raw_{canon}") for col, canon in keep.items()])
    recipes = []
    for c in spec.columns:
        derive, key = None, f"_raw_{c.name}"
        if c.name == "channel" and c.name not in source and "_add_way" in source:
            derive, key = data._add_way_channel, "_raw__add_way"
        absent = c.name not in source and derive is None
        if absent:  # an absent column: empty, or "paid" for status
            values, plain = pa.chunked_array([pa.array(["paid" if c.name == "status" else None])]), None
        else:
            plain = _plain(c, t[key]) if derive is None else None
            if plain is None:  # every distinct value is parsed
                values = eng.arrow(t.select(v=t[key]).distinct())["v"]
            elif c.kind == "id":  # many rows, fewer distinct ids: the test runs on the distinct values
                ids = t.select(v=t[key]).distinct()
                values = eng.arrow(ids.filter(~_plain(c, ids["v"])))["v"]
            else:  # a cheap test on every row (timestamps): only the rows that fail it are looked at again
                values = eng.arrow(t.filter(~plain).select(v=t[key]).distinct())["v"]
        table, keys = _mapping(c, values, ctx, derive)
        parts = ["value"] * bool(table.num_rows)
        parts += ["reason", "shown"] * (table["reason"].null_count < table.num_rows)
        parts += [f"n{i}" for i in range(len(keys)) if pc.sum(table[f"n{i}"]).as_py()]
        recipe = {"c": c, "key": key, "plain": plain is not None, "parts": parts, "keys": keys}
        if absent:
            recipe["literal"] = table.to_pylist()[0]
        elif parts:
            hit = pa.array(np.ones(table.num_rows, dtype=bool))
            m = eng.put(table.select(["v", *parts]).append_column("hit", hit))
            m = m.rename({f"{c.name}__{k}": k for k in [*parts, "hit"]})
            t = t.left_join(m, t[key].identical_to(m["v"])).drop("v")
        recipes.append(recipe)
    st = _Staged(t)
    out = {_ROW: t[_ROW]}
    for rc in recipes:
        c, parts, lit = rc["c"], rc["parts"], rc.get("literal")
        types = {"value": _ibis_type(c), "reason": "string", "shown": "string"}
        for k in parts:
            col = ibis.literal(lit[k], type=types.get(k, "int64")) if lit else t[f"{c.name}__{k}"]
            if k != "value":
                out[f"{c.name}__{k}"] = col
        value = ibis.null(_ibis_type(c))
        if "value" in parts:
            value = ibis.literal(lit["value"], type=_ibis_type(c)) if lit else t[f"{c.name}__value"]
        if rc["plain"]:  # a value not in the map was taken as it is
            r = t[rc["key"]]
            value = ibis.ifelse(t[f"{c.name}__hit"].notnull(), value, r.cast(_ibis_type(c))) if parts else r
        out[c.name] = value.cast(_ibis_type(c))
        st.count_keys |= {k: f"{c.name}__n{i}" for i, k in enumerate(rc["keys"]) if f"n{i}" in parts}
        if "reason" in parts:
            st.reasons.append(c.name)
    st.t = t.select(**out)
    return st


def _fixes(st: _Staged, spec: TableSpec, ctx) -> None:
    """Make the changes that keep a row: refunds written as negative amounts, removals after ``as_of``."""
    t = st.t
    if spec.name == "orders":
        neg = ((t["amount"] < 0) & (t["status"] == "refunded")).fill_null(False)
        t = t.mutate(amount=ibis.ifelse(neg, t["amount"].abs(), t["amount"]), _neg_refund=neg)
        st.count_keys["negative refunds"] = "_neg_refund"
    if spec.name == "contacts":  # a removal after as_of is not known at as_of: still a friend then
        later = (t["removed_at"] > ctx.as_of.to_pydatetime()).fill_null(False)
        t = t.mutate(removed_at=ibis.ifelse(later, ibis.null("timestamp(6)"), t["removed_at"]), _after=later)
        st.count_keys["after_as_of removed_at"] = "_after"
    st.t = t


def _first_of_equal(t: ir.Table, cols: list[str], name: str) -> ir.Table:
    """Add ``name``: the earliest source row of ``t`` with the same ``cols``, where several rows share them.

    An aggregate of the groups of more than one row and a join, not a window over every row: the engine hashes
    instead of sorting every row's columns.
    """
    groups = t.group_by(cols).aggregate(_n=ibis._.count(), _first=ibis._[_ROW].min())
    groups = groups.filter(groups["_n"] > 1).select(*[groups[c].name(f"_g_{c}") for c in cols], groups["_first"])
    joined = t.left_join(groups, [t[c].identical_to(groups[f"_g_{c}"]) for c in cols])
    return joined.drop(*[f"_g_{c}" for c in cols]).rename({name: "_first"})


def _repeated(t: ir.Table, cols: list[str]) -> ir.Table:
    """Keep the rows of ``t`` whose ``cols`` may repeat: their combined hash occurs more than once.

    One 64-bit number per row is grouped instead of every column; a hash shared by chance only adds a row to the
    exact comparison that follows.
    """
    h = t[cols[0]].hash()
    for c in cols[1:]:
        h = h ^ t[c].hash()
    t = t.mutate(_h=h)
    repeated = t.group_by("_h").aggregate(_n=ibis._.count()).filter(ibis._["_n"] > 1).select(_hh="_h")
    return t.semi_join(repeated, t["_h"] == repeated["_hh"]).drop("_h")


def _duplicates(t: ir.Table, spec: TableSpec) -> ir.Table | None:
    """Return ``_ROW, _first_exact, _first_key`` of the rows that repeat an earlier live row (``None``: no rule).

    ``t`` holds the live rows. Only rows whose key (without a key: whole row) may repeat can be duplicates of either
    kind (an exact duplicate repeats the key too), so both checks run on those few rows.
    """
    cols, key = spec.column_names, list(spec.key or ())
    if not spec.exact_duplicates and not key:
        return None
    t = _repeated(t, key or cols).select(_ROW, *cols)
    if spec.exact_duplicates:
        t = _first_of_equal(t, cols, "_first_exact")
    else:
        t = t.mutate(_first_exact=ibis.null("int64"))
    t = t.mutate(_dup_exact=(t["_first_exact"] < t[_ROW]).fill_null(False))
    if key:
        rest = _first_of_equal(t.filter(~t["_dup_exact"]), key, "_first_key")
        t = rest.union(t.filter(t["_dup_exact"]).mutate(_first_key=ibis.null("int64")))
    else:
        t = t.mutate(_first_key=ibis.null("int64"))
    later = t["_dup_exact"] | (t["_first_key"] < t[_ROW]).fill_null(False)
    return t.filter(later).select(_ROW, "_first_exact", "_first_key")


def _row_rules(st: _Staged, spec: TableSpec, ctx) -> None:
    """Add the rules that look at one row at a time (``st.rules``) and ``_bad1``: one of them quarantines it."""
    t = st.t
    as_of = ctx.as_of.to_pydatetime()
    parse_bad = ibis.literal(False)
    for name in st.reasons:
        parse_bad = parse_bad | t[f"{name}__reason"].notnull()
    t = t.mutate(_parse_bad=parse_bad)
    live = ~t["_parse_bad"]
    rules = {}
    for c in spec.columns:
        if not c.nullable:
            rules[f"_missing__{c.name}"] = (c.name, "missing", live & t[c.name].isnull())
        if c.kind == "money":
            rules[f"_negative__{c.name}"] = (c.name, "negative", live & (t[c.name] < 0).fill_null(False))
        if c.kind in ("timestamp", "date") and (spec.name, c.name) not in data._MAY_END_AFTER_AS_OF:
            rules[f"_future__{c.name}"] = (c.name, "future", live & (t[c.name] > as_of).fill_null(False))
    for i, rule in enumerate(data.ROW_RULES.get(spec.name, ())):
        rules[f"_row__{i}"] = (rule.column, f"row{i}", live & rule.applies(t).fill_null(False))
    t = t.mutate(**{k: v[2] for k, v in rules.items()})
    st.rules = [(k, col, kind) for k, (col, kind, _) in rules.items()]
    bad = t["_parse_bad"]
    for k in rules:
        bad = bad | t[k]
    st.t = t.mutate(_bad1=bad)


def _cross_row_rules(st: _Staged, spec: TableSpec, known: dict[str, ir.Table]) -> None:
    """Add the rules that compare rows (duplicates, orphans: ``st.orphans``) and ``_bad``: the row is quarantined.

    ``st.t`` holds :func:`_row_rules`' columns; only rows those rules keep are compared.
    """
    t = st.t
    dups = _duplicates(t.filter(~t["_bad1"]), spec)
    if dups is not None:
        dups = dups.rename({"_d_row": _ROW})
        t = t.left_join(dups, t[_ROW] == dups["_d_row"]).drop("_d_row")
    else:
        t = t.mutate(_first_exact=ibis.null("int64"), _first_key=ibis.null("int64"))
    t = t.mutate(_dup_exact=(~t["_bad1"] & (t["_first_exact"] < t[_ROW])).fill_null(False))
    # the first row of an exact group may itself repeat an earlier key: a key duplicate, though its _first_exact is set
    t = t.mutate(_dup_key=(~t["_bad1"] & ~t["_dup_exact"] & (t["_first_key"] < t[_ROW])).fill_null(False))
    orphans = {}
    for col, ref in spec.references.items():
        if ref not in known:
            continue
        # a join on the distinct known ids, not NOT IN (subquery): Spark runs that in a projection as a nested loop
        ids = known[ref].select(_known_id="id", _known=ibis.literal(True))
        t = t.left_join(ids, t[col] == ids["_known_id"]).drop("_known_id")
        t = t.rename({f"_known__{col}": "_known"})
        orphans[f"_orphan__{col}"] = ~t["_bad1"] & t[col].notnull() & t[f"_known__{col}"].isnull()
    t = t.mutate(**orphans) if orphans else t
    st.orphans = list(orphans)
    bad = t["_bad1"] | t["_dup_exact"] | t["_dup_key"]
    for k in orphans:
        bad = bad | t[k]
    st.t = t.mutate(_bad=bad)


def _lines(spec: TableSpec, bad: pd.DataFrame, st: _Staged, ctx) -> pd.DataFrame:
    """Build the quarantine lines of the quarantined rows, in the chunked loader's order within each row."""
    parts = []

    def add(mask: pd.Series, column: str, reason, values) -> None:
        mask = mask.fillna(False).to_numpy(dtype=bool)
        if mask.any():
            shown = values[mask].to_numpy(dtype=object) if isinstance(values, pd.Series) else None
            why = reason if isinstance(reason, str) else reason[mask].to_numpy(dtype=object)
            rows = bad[_ROW].to_numpy()[mask] + 1
            parts.append(pd.DataFrame({"row": rows, "column": column, "reason": why, "value": shown, "_k": len(parts)}))

    for c in spec.columns:
        if c.name not in st.reasons:
            continue
        reasons = bad[f"{c.name}__reason"]
        if reasons.notna().any():
            split = reasons.str.split(_SEP)
            for j in range(int(split.str.len().max())):
                r = split.str[j]
                add(r.notna(), c.name, r, bad[f"{c.name}__shown"])
    future = f"timestamp in the future (after as_of {ctx.as_of:%Y-%m-%d %H:%M})"
    words = {"missing": "missing value", "negative": "negative amount", "future": future}
    for flag, column, kind in st.rules:
        if kind.startswith("row"):
            add(bad[flag], column, data.ROW_RULES[spec.name][int(kind[3:])].reason, bad[column])
        else:
            add(bad[flag], column, words[kind], None if kind == "missing" else bad[column])
    first = (bad["_first_exact"].astype("Int64") + 1).astype(str)
    add(bad["_dup_exact"], "*", "exact duplicate of row " + first, None)
    if spec.key:
        label = "+".join(spec.key)
        first = (bad["_first_key"].astype("Int64") + 1).astype(str)
        keyval = bad[list(spec.key)].astype(object).astype(str).agg("|".join, axis=1)
        add(bad["_dup_key"], label, f"duplicate {label} (first at row " + first + ")", keyval)
    for flag in st.orphans:
        col = flag.removeprefix("_orphan__")
        add(bad[flag], col, f"orphan {col} (not in {spec.references[col].split('.')[0]})", bad[col])
    if not parts:
        return pd.DataFrame(columns=data.QUARANTINE_COLUMNS)
    q = pd.concat(parts, ignore_index=True).sort_values(["row", "_k"], kind="stable")
    q.insert(0, "table", spec.name)
    q["value"] = q["value"].map(data._quarantine_value)
    return q[data.QUARANTINE_COLUMNS].reset_index(drop=True)


def _known_tables(eng, spec: TableSpec, known_ids: dict[str, pd.Index], cache: dict) -> dict[str, ir.Table]:
    out = {}
    for ref in {*spec.references.values(), "campaigns.campaign_id"}:
        if ref in known_ids:
            if ref not in cache:
                ids = pa.array(known_ids[ref].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
                cache[ref] = eng.put(pa.table({"id": ids}), "known")
            out[ref] = cache[ref]
    return out


def _part_bounds(eng, read: int) -> list[tuple[int, int]]:
    """Source-row ranges ``[lo, hi)`` of the parts a long table is checked in (none: the table is checked whole).

    >>> class E: name = "duckdb"
    >>> _part_bounds(E(), PART_ROWS), _part_bounds(E(), 2 * PART_ROWS + 1)[-1][1] == 2 * PART_ROWS + 1
    ([], True)
    """
    if eng.name != "duckdb" or read <= PART_ROWS:
        return []
    n = -(-read // PART_ROWS)
    step = -(-read // n)
    return [(lo, min(lo + step, read)) for lo in range(0, read, step)]


def _flagged_parts(eng, st: _Staged, spec: TableSpec, ctx, parts: list, folder: Path) -> list[Path]:
    """Parse and apply the one-row rules part by part; each part is spooled in source order. Returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files, whole = [], st.t
    for i, (lo, hi) in enumerate(parts):
        part = copy.copy(st)
        part.t = whole.filter((whole[_ROW] >= lo) & (whole[_ROW] < hi))
        _row_rules(part, spec, ctx)
        files.append(folder / f"flagged-{i:05d}.parquet")
        eng.write_file(part.t.order_by(_ROW), files[-1])
    st.rules = part.rules  # the same flags for every part
    return files


def _without(t: ir.Table, drop: list[int], bad: ir.Table) -> ir.Table:
    """Return ``t`` without the source rows ``drop`` (rows of ``bad``), in source order.

    A filter keeps the order: few rows go by a list in the query; many by a join on ``bad``, which does not keep the
    order, so the rows are sorted again.
    """
    if 0 < len(drop) <= FEW_ROWS:
        return t.filter(~t[_ROW].isin(drop))
    if len(drop):
        return t.filter(~t[_ROW].isin(bad[_ROW])).order_by(_ROW)
    return t


def _write_kept_parts(eng, files: list[Path], parts: list, bad: ir.Table, bad_rows, columns, out: Path) -> None:
    """Write the kept rows of every part, in source order, to one Parquet file ``out`` (no sort of the whole table).

    Each part leaves out its quarantined rows (by a list when few, else by a join and a sort of the part); the
    parts' row groups are then appended to ``out`` one after another.
    """
    rows = np.sort(np.asarray(bad_rows, dtype="int64"))
    kept_files = []
    for f, (lo, hi) in zip(files, parts, strict=True):
        t = _without(eng.read_files([f], "part"), rows[(rows >= lo) & (rows < hi)].tolist(), bad)
        kept_files.append(f.with_name(f.name.replace("flagged", "kept")))
        eng.write_file(t.select(*columns(t)), kept_files[-1])
    writer = None
    try:
        for f in kept_files:
            pf = pq.ParquetFile(f)
            writer = writer or pq.ParquetWriter(out, pf.schema_arrow, compression="zstd")
            for g in range(pf.num_row_groups):
                writer.write_table(pf.read_row_group(g))
    finally:
        if writer is not None:
            writer.close()


def load_table(
    eng,
    spec: TableSpec,
    fpath: Path | str,
    ctx,
    notes: list[str],
    store,
    known_ids: dict[str, pd.Index],
    soft: dict[str, int],
    spool_dir: Path,
    cache: dict,
) -> tuple[list[pd.DataFrame], dict, dict]:
    """Validate one Parquet table in the engine; the same result and bookkeeping as ``data._load_table``.

    ``eng`` is :func:`connect`'s engine; ``fpath`` a Parquet file or, on Spark, a Parquet folder or a catalog table
    (``table:<database>.<name>``). The clean rows are written to ``spool_dir/<table>.parquet`` (source order; a
    folder of part files on Spark) and recorded in ``store``; the ids
    other tables reference are added to ``known_ids``; unknown campaign ids are counted in ``soft``.

    Returns
    -------
    quarantine : list of DataFrame
        The table's quarantine lines.
    accounting : dict
        ``table, file, read, kept, quarantined``.
    source : dict
        ``table, file, encoding, header_row``.
    """
    work = Path(spool_dir) / f".{spec.name}-parts"  # a long table's parts, removed with the table's staging
    try:
        name, fname = spec.name, ctx.fname
        try:
            raw = eng.read(fpath)
        except DataContractError:
            raise
        except Exception as err:  # the engine's own words: which file, what it could not read
            raise data._Unreadable(f"{fname}: cannot be read ({type(err).__name__})") from None
        file_notes: list[str] = []
        keep, _ = data._column_plan(spec, [c for c in raw.columns if c != _ROW], fname, file_notes)
        read = int(raw.count().to_pyarrow().as_py())
        if spec.required and read == 0:
            raise DataContractError(f"{fname}: required table {name!r} has no rows")
        for col, canon in keep.items():  # as the chunked loader: decided once per file, from its first chunk
            kind = spec.column(canon).kind if canon != "_add_way" else ""
            if kind in ("timestamp", "date") and not raw[col].type().is_timestamp():
                head = eng.arrow(raw.order_by(_ROW).limit(data.CHUNK_ROWS).select(v=raw[col]))["v"]
                ctx.serials[canon] = parsing.serial_dates_likely(_to_pandas(head))
        st = _parse_in_engine(eng, spec, raw, keep, ctx)
        _fixes(st, spec, ctx)
        parts = _part_bounds(eng, read)
        if parts:  # a long table: parsed and checked row by row a part at a time, then compared across all parts
            part_files = _flagged_parts(eng, st, spec, ctx, parts, work)
            parsed = st.t = eng.read_files(part_files, "flagged")
        else:  # the parse and its joins run once; joins do not keep the source order, so the table is put back in it
            parsed = st.t = eng.keep(st.t.order_by(_ROW), "parsed")
            _row_rules(st, spec, ctx)
        _cross_row_rules(st, spec, _known_tables(eng, spec, known_ids, cache))
        flags = [flag for flag, _, _ in st.rules]
        wanted = [_ROW, *spec.column_names, *(f"{c}__{k}" for c in st.reasons for k in ("reason", "shown"))]
        bad = st.t.filter(st.t["_bad"])
        bad = bad.select(*wanted, *flags, "_first_exact", "_dup_exact", "_first_key", "_dup_key", *st.orphans)
        bad = eng.keep(bad, "quarantined")  # the rules run once, over every row
        counts: Counter = Counter()
        if st.count_keys:
            sums = parsed.aggregate(**{k: parsed[col].cast("int64").sum() for k, col in st.count_keys.items()})
            counts.update({k: int(v or 0) for k, v in sums.to_pyarrow().to_pylist()[0].items()})
        bad_df = bad.order_by(_ROW).to_pandas()
        for c in spec.columns:
            if c.kind in ("timestamp", "date"):
                bad_df[c.name] = pd.to_datetime(bad_df[c.name]).astype("datetime64[ns]")
        q = _lines(spec, bad_df, st, ctx)
        kept_n = read - len(bad_df)
        if spec.required and kept_n == 0:
            raise data._all_quarantined_error(name, fname, read, q, known_ids)
        out = spool_dir / f"{name}.parquet"
        columns = lambda t: [t[c.name].cast(_ibis_type(c)).name(c.name) for c in spec.columns]  # noqa: E731
        if parts:
            _write_kept_parts(eng, part_files, parts, bad, bad_df[_ROW], columns, out)
            kept = eng.read_files([out], "kept")
        else:
            kept = _without(parsed, bad_df[_ROW].tolist(), bad)
            if eng.name != "duckdb":  # only DuckDB keeps a table's order
                kept = kept.order_by(_ROW)
            kept = eng.write(kept.select(*columns(kept)), out)
        store.paths[name] = out
        ref_col = {"contacts": "user_id", "campaigns": "campaign_id"}.get(name)
        if ref_col:
            ids = eng.arrow(kept.filter(kept[ref_col].notnull()).select(ref_col).distinct())[ref_col]
            known_ids[f"{name}.{ref_col}"] = pd.Index(ids.to_numpy(zero_copy_only=False).astype(object))
        if name not in ("contacts", "campaigns") and "campaign_id" in spec.column_names:
            if "campaigns.campaign_id" in known_ids:
                ids = _known_tables(eng, spec, known_ids, cache)["campaigns.campaign_id"]
                n = kept.filter(kept["campaign_id"].notnull() & ~kept["campaign_id"].isin(ids["id"])).count()
                soft[name] = soft.get(name, 0) + int(n.to_pyarrow().as_py())
        notes.extend(file_notes)
        notes.extend(data._file_notes(fname, name, counts))
        acc = {"table": name, "file": fname, "read": read, "kept": kept_n, "quarantined": len(bad_df)}
        return [q], acc, {"table": name, "file": fname, "encoding": None, "header_row": 0}
    finally:  # this table's staging tables and parts go; the known ids stay for the next tables
        eng.drop_staging()
        shutil.rmtree(work, ignore_errors=True)
