"""Data-quality summaries and charts for notebook 00: accounting, date coverage, daily volume, quarantine reasons."""

from __future__ import annotations

import re

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.contract import TABLES
from helpers.data import Dataset

__all__ = [
    "accounting_holds",
    "coverage",
    "daily_counts",
    "plot_accounting",
    "plot_daily_counts",
    "quarantine_reasons",
    "stray_tail",
]


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
    """Events per calendar day for each table with a main timestamp (adds, orders, touches, messages, leads).

    Every day from the first to the last event of any table has a row — a day without events is 0, not missing,
    so a gap in an export shows as a gap.

    Returns
    -------
    DataFrame
        Index: every day of the span; one column per table present.

    Examples
    --------
    >>> orders = pd.DataFrame({"ordered_at": pd.to_datetime(["2025-01-01 10:00", "2025-01-04 12:00"])})
    >>> daily_counts(Dataset({"orders": orders}, pd.DataFrame(), pd.DataFrame()))["orders"].tolist()
    [1, 0, 0, 1]
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
    out = pd.DataFrame(cols)
    if len(out):
        out = out.reindex(pd.date_range(out.index.min(), out.index.max(), freq="D"))
    return out.fillna(0).astype("int64")


def stray_tail(daily: pd.DataFrame, min_gap_days: int = 14, max_share: float = 0.001) -> pd.Timestamp | None:
    """Find the export's real end when a few events are dated far after everything else (stray late timestamps).

    With ``as_of`` left to ``auto`` the export date comes from the data, so one mistyped year (``2062``) or a test
    order dated next month would move it — and make every customer look lapsed. Events after a gap of at least
    ``min_gap_days`` empty days that together hold at most ``max_share`` of all events (and at most 100) are stray:
    the day after the last day before the gap is the export's end, and those events are quarantined as in the
    future when the data are read again with it.

    Parameters
    ----------
    daily : DataFrame
        Output of :func:`daily_counts` (every calendar day, one column per table).
    min_gap_days, max_share : int, float
        What counts as a gap and as "a few".

    Returns
    -------
    Timestamp or None
        The ``as_of`` to read the data with, or ``None`` when the data have no stray tail.

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", "2025-03-31", freq="D")
    >>> daily = pd.DataFrame({"orders": 50}, index=days)
    >>> stray_tail(daily) is None
    True
    >>> late = pd.DataFrame({"orders": [2]}, index=[pd.Timestamp("2025-06-01")])
    >>> stray_tail(pd.concat([daily, late]).asfreq("D", fill_value=0))
    Timestamp('2025-04-01 00:00:00')
    """
    total = daily.sum(axis=1)
    active = total[total > 0]
    if len(active) < 2:
        return None
    days = active.index
    gaps = (days[1:] - days[:-1]).days - 1
    for i in range(len(gaps) - 1, -1, -1):  # the latest gap first
        tail = int(active.iloc[i + 1 :].sum())
        if tail > min(100, max_share * active.sum()):
            return None
        if gaps[i] >= min_gap_days:
            return days[i] + pd.Timedelta(days=1)
    return None


_TABLE_EVENTS = {
    "contacts": "adds 加好友",
    "orders": "orders 订单",
    "touches": "touches 触达",
    "messages": "messages 群消息",
    "leads": "leads 线索",
}


def plot_accounting(accounting: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Bars per table: rows kept and rows quarantined, on a linear scale, each labelled with its share.

    Parameters
    ----------
    accounting : DataFrame
        ``Dataset.accounting`` (table, read, kept, quarantined).
    ax : Axes, optional
        Where to draw; a new figure if omitted.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.55 * len(accounting) + 1.5))
    a = accounting.set_index("table")[["kept", "quarantined"]].iloc[::-1]
    y = np.arange(len(a))
    ax.barh(y, a["kept"], height=0.6, color="#4c72b0", label="kept 保留")
    ax.barh(y, a["quarantined"], left=a["kept"], height=0.6, color="#dd8452", label="quarantined 隔离")
    for yi, q, r in zip(y, a["quarantined"], a["kept"] + a["quarantined"], strict=True):
        share = f"{q / r:.2%}" if r else "—"
        ax.annotate(
            f"{q:,} of {r:,} quarantined ({share})",
            (r, yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.set_yticks(y, a.index)
    ax.set_xlim(0, max(int((a["kept"] + a["quarantined"]).max()), 1) * 1.45)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("rows 行数")
    ax.set_title("Rows kept and quarantined per table 每张表保留 / 隔离的行数")
    ax.legend(loc="lower right")
    return ax


def plot_daily_counts(daily: pd.DataFrame, axes: np.ndarray | None = None) -> np.ndarray:
    """Weekly events per table, one small panel each (linear scale), every calendar week of the span shown.

    A week without events is drawn at 0, so an export gap is visible. Only the first and last weeks, which the
    span cuts (fewer than 7 days observed), are left out: a partial week would look like a drop.

    Parameters
    ----------
    daily : DataFrame
        Output of :func:`daily_counts` (every calendar day).
    axes : array of Axes, optional
        One Axes per table column; a new figure if omitted.

    Returns
    -------
    ndarray of Axes
    """
    if axes is None:
        _, axes = plt.subplots(
            len(daily.columns), 1, figsize=(9, 1.7 * len(daily.columns) + 0.8), sharex=True, squeeze=False
        )
        axes = axes[:, 0]
    axes = np.atleast_1d(axes)
    bins = daily.resample("W-MON", label="left", closed="left")
    weekly = bins.sum()[bins.size() == 7]  # every calendar day is a row, so only the cut end weeks are dropped
    for ax, col in zip(axes, daily.columns, strict=True):
        ax.plot(weekly.index, weekly[col], marker="." if len(weekly) < 60 else None, color="#4c72b0")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_ylabel(_TABLE_EVENTS.get(col, col), rotation=0, ha="right", va="center")
        zero = weekly.index[weekly[col] == 0]
        if len(zero):
            ax.scatter(zero, np.zeros(len(zero)), color="#c44e52", zorder=3, s=14)
    axes[0].set_title("Events per week, whole weeks (red: a week with none) 各表每周数据量")
    axes[-1].set_xlabel("week 周")
    return axes
