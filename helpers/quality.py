"""Data-quality summaries for notebook 00: table sizes, date coverage and quarantine reasons."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from helpers.contract import TABLES
from helpers.data import Dataset

__all__ = ["accounting_holds", "coverage", "daily_counts", "quarantine_reasons"]


def accounting_holds(ds: Dataset) -> bool:
    """Whether ``read == kept + quarantined`` for every table (it always should)."""
    a = ds.accounting
    return bool((a["read"] == a["kept"] + a["quarantined"]).all())


def coverage(ds: Dataset) -> pd.DataFrame:
    """Per table: rows, distinct users, and the first / last timestamp of each time column.

    Returns
    -------
    DataFrame
        One row per (table, time column): ``rows``, ``users``, ``first``, ``last``, ``days`` spanned.
    """
    out = []
    for name in ds.tables:
        spooled = ds.tables.path(name)
        tcols = [c.name for c in TABLES[name].columns if c.kind in ("timestamp", "date")]
        has_user = "user_id" in [c.name for c in TABLES[name].columns]
        if spooled is not None:  # a streamed table: one pass in DuckDB, without loading it
            aggs = ["count(*)", "count(DISTINCT user_id)" if has_user else "NULL"]
            aggs += [f"min({c}), max({c})" for c in tcols]
            vals = duckdb.execute(f"SELECT {', '.join(aggs)} FROM read_parquet(?)", [str(spooled)]).fetchone()
            rows, users = vals[0], vals[1]
            stamps = [pd.Timestamp(v) if v is not None else pd.NaT for v in vals[2:]]
            spans = {c: (stamps[2 * i], stamps[2 * i + 1]) for i, c in enumerate(tcols)}
        else:
            df = ds.tables[name]
            rows, users = len(df), int(df["user_id"].nunique()) if has_user else None
            spans = {c: (df[c].min(), df[c].max()) for c in tcols}
        for tc in tcols or [None]:
            first, last = spans.get(tc, (pd.NaT, pd.NaT))
            out.append(
                {
                    "table": name,
                    "column": tc,
                    "rows": int(rows),
                    "users": None if users is None else int(users),
                    "first": first,
                    "last": last,
                    "days": (last - first).days + 1 if pd.notna(first) else 0,
                }
            )
    return pd.DataFrame(out)


def quarantine_reasons(ds: Dataset) -> pd.DataFrame:
    """Count quarantine lines by table, column and reason (row numbers stripped so reasons group).

    Examples
    --------
    >>> q = pd.DataFrame({"table": ["orders"] * 2, "row": [3, 9], "column": ["order_id"] * 2,
    ...                   "reason": ["duplicate order_id (first at row 2)", "duplicate order_id (first at row 4)"],
    ...                   "value": ["A", "B"]})
    >>> quarantine_reasons(Dataset({}, q, pd.DataFrame())).to_dict("records")
    [{'table': 'orders', 'column': 'order_id', 'reason': 'duplicate order_id', 'lines': 2, 'example_row': 3}]
    """
    q = ds.quarantine
    if q.empty:
        return pd.DataFrame(columns=["table", "column", "reason", "lines", "example_row"])
    generic = q["reason"].map(lambda r: re.sub(r"\s*\((first at row|of row) \d+\)|\s*of row \d+$", "", r))
    return (
        q.assign(reason=generic)
        .groupby(["table", "column", "reason"], as_index=False)
        .agg(lines=("row", "size"), example_row=("row", "min"))
        .sort_values("lines", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def daily_counts(ds: Dataset) -> pd.DataFrame:
    """Events per day for each table with a main timestamp (adds, orders, touches, messages, leads).

    Returns
    -------
    DataFrame
        Index: day; one column per table present.
    """
    main_ts = {
        "contacts": "added_at",
        "orders": "ordered_at",
        "touches": "touched_at",
        "messages": "sent_at",
        "leads": "created_at",
    }
    cols = {}
    for name, col in main_ts.items():
        if name not in ds.tables:
            continue
        spooled = ds.tables.path(name)
        if spooled is not None:
            sql = (
                f"SELECT date_trunc('day', {col}) AS day, count(*) AS n FROM read_parquet(?) "
                f"WHERE {col} IS NOT NULL GROUP BY 1"
            )
            d = duckdb.execute(sql, [str(spooled)]).df()
            cols[name] = d.set_index(pd.to_datetime(d["day"]).astype("datetime64[ns]").rename(None))["n"].sort_index()
        else:
            cols[name] = ds.tables[name][col].dt.floor("D").value_counts().sort_index()
    return pd.DataFrame(cols).fillna(0).astype("int64")
