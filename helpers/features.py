"""Per-user and per-path reductions of the event tables, as ibis expressions (engine-independent).

Each function takes ibis tables and returns an ibis table: nothing runs until the caller executes it with
:meth:`helpers.engine.Engine.to_pandas`, on DuckDB or Spark alike.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd

__all__ = ["cohort_revenue", "first_orders_after_add", "order_summary", "touch_paths"]


def order_summary(orders: ibis.Table, as_of: str | datetime | pd.Timestamp) -> ibis.Table:
    """Per-user order facts at ``as_of``: counts, purchase days, GMV net of refunds, first / last order, recency.

    Parameters
    ----------
    orders : ibis.Table
        The contract ``orders`` table.
    as_of : str or datetime
        Snapshot time; later orders are ignored.

    Returns
    -------
    ibis.Table
        One row per user with ``orders`` (paid orders), ``purchase_days`` (distinct days with a paid order),
        ``gmv`` (paid amount), ``refunds`` (refunded amount), ``net_gmv``, ``first_order_at``,
        ``last_order_at`` and ``recency_days`` (days from the last paid order to ``as_of``).
    """
    ts = ibis.timestamp(pd.Timestamp(as_of).to_pydatetime())
    o = orders.filter(orders.ordered_at <= ts)
    paid = o.status == "paid"
    amount_paid = ibis.ifelse(paid, o.amount, 0.0)
    amount_refund = ibis.ifelse(paid, 0.0, o.amount)
    g = o.group_by("user_id").aggregate(
        orders=paid.cast("int64").sum(),
        purchase_days=ibis.ifelse(paid, o.ordered_at.date(), ibis.null("date")).nunique(),
        gmv=amount_paid.sum().round(2),
        refunds=amount_refund.sum().round(2),
        first_order_at=ibis.ifelse(paid, o.ordered_at, ibis.null("timestamp")).min(),
        last_order_at=ibis.ifelse(paid, o.ordered_at, ibis.null("timestamp")).max(),
    )
    return g.mutate(
        net_gmv=(g.gmv - g.refunds).round(2),
        recency_days=(ts.epoch_seconds() - g.last_order_at.epoch_seconds()) / 86400.0,
    )


def touch_paths(touches: ibis.Table, until: str | datetime | pd.Timestamp | None = None) -> ibis.Table:
    """Each user's touches in time order, as an array of touch types.

    Ordered aggregation is not portable (PySpark has no ordered ``collect``), so touches are collected as
    ``(time, type)`` structs, sorted — ties broken by type, so every engine gives the same order — and mapped.

    Parameters
    ----------
    touches : ibis.Table
        The contract ``touches`` table.
    until : str or datetime, optional
        Ignore touches after this time.

    Returns
    -------
    ibis.Table
        ``user_id``, ``touches`` (count), ``path`` (array of touch types, oldest first).
    """
    t = touches
    if until is not None:
        t = t.filter(t.touched_at <= ibis.timestamp(pd.Timestamp(until).to_pydatetime()))
    ev = ibis.struct({"t": t.touched_at, "k": t.touch_type})
    g = t.group_by("user_id").aggregate(ev=ev.collect(), touches=t.count())
    return g.mutate(path=g.ev.sort().map(lambda s: s.k)).drop("ev")


def _paid_after_add(orders: ibis.Table, contacts: ibis.Table, as_of) -> ibis.Table:
    ts = ibis.timestamp(pd.Timestamp(as_of).to_pydatetime())
    o = orders.filter((orders.status == "paid") & (orders.ordered_at <= ts))
    c = contacts.select("user_id", "added_at", "channel")
    j = o.join(c, "user_id")
    return j.filter(j.ordered_at >= j.added_at)


def first_orders_after_add(
    orders: ibis.Table, contacts: ibis.Table, as_of: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Each contact's first paid order placed after it was added (the conversion of the acquisition funnel).

    Orders placed before the contact was added (existing customers) do not count as conversions.

    Returns
    -------
    ibis.Table
        ``user_id``, ``first_order_at``, ``days_to_first_order`` (from ``added_at``).
    """
    j = _paid_after_add(orders, contacts, as_of)
    g = j.group_by("user_id").aggregate(first_order_at=j.ordered_at.min(), added_at=j.added_at.min())
    days = (g.first_order_at.epoch_seconds() - g.added_at.epoch_seconds()) / 86400.0
    return g.mutate(days_to_first_order=days).drop("added_at")


def cohort_revenue(
    orders: ibis.Table, contacts: ibis.Table, as_of: str | datetime | pd.Timestamp, period_days: int = 30
) -> ibis.Table:
    """Paid GMV and buyers per acquisition cohort (add month), channel and period since each contact's add.

    Period ``k`` covers days ``[k * period_days, (k + 1) * period_days)`` after the contact was added; orders
    before the add are excluded.

    Returns
    -------
    ibis.Table
        ``cohort`` (month of add), ``channel``, ``period``, ``gmv``, ``buyers``, ``orders``.
    """
    j = _paid_after_add(orders, contacts, as_of)
    period = ((j.ordered_at.epoch_seconds() - j.added_at.epoch_seconds()) / (86400.0 * period_days)).floor()
    j = j.mutate(cohort=j.added_at.truncate("M"), period=period.cast("int64"))
    return j.group_by(["cohort", "channel", "period"]).aggregate(
        gmv=j.amount.sum().round(2), buyers=j.user_id.nunique(), orders=j.count()
    )
