"""Per-user and per-path reductions of the event tables, as ibis expressions (engine-independent).

Each function takes ibis tables (or pandas frames, wrapped by :func:`as_table`) and returns an ibis table:
nothing runs until the caller executes it with :meth:`helpers.engine.Engine.to_pandas`, on DuckDB or Spark alike.

**Sales, defined once.** ``orders`` rows are paid orders (``status`` ``paid``, or no status column) and refunds
(``refunded``: the amount returned, dated when it was processed).

- *gross sales* (GMV 成交额) = the amounts of paid orders; *refunds* (退款) = the amounts refunded; *net sales*
  (净成交额) = gross − refunds. Over a window, gross counts orders placed in it and refunds those processed in it.
- A refund refers to the customer's latest purchase day at or before it (the day of their last paid order
  before the refund).
- A *purchase occasion* (购买日) is a customer's day with paid orders that was not refunded in full (its amount
  net of the refunds that refer to it stays above zero). A fully refunded day is not a purchase: it counts for
  no frequency, recency, repeat rate, conversion, BG/NBD, RFM, CLV or contact list; a partial refund keeps the
  occasion at its net amount. Several orders on one day are one occasion (their amounts added).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import pandas as pd
from ibis import _

__all__ = [
    "messages_followed_by_purchase",
    "MESSAGE_TYPES",
    "as_table",
    "campaign_window_deletions",
    "campaign_window_outcomes",
    "cohort_revenue",
    "contact_state",
    "first_orders_after_add",
    "group_messages",
    "first_purchase_after_add",
    "interpurchase_gaps",
    "order_summary",
    "pretreatment_features",
    "purchase_day_counts",
    "purchase_days",
    "purchase_days_ranked",
    "purchase_opportunities",
    "purchase_summary",
    "snapshot_features",
    "timestamp_literal",
    "touch_counts",
    "touches_before_first_purchase",
    "touch_paths",
    "user_features",
    "window_orders",
    "window_sales",
]


def timestamp_literal(value: str | datetime | pd.Timestamp) -> ibis.expr.types.TimestampScalar:
    """Return ``value`` as an ibis timestamp literal (naive, like the contract's timestamps)."""
    return ibis.timestamp(pd.Timestamp(value).to_pydatetime())


_ts = timestamp_literal


def as_table(data: pd.DataFrame | ibis.Table) -> ibis.Table:
    """Return ``data`` as an ibis table; a pandas frame is wrapped in memory with portable timestamps.

    Any pandas datetime is accepted: nanosecond, microsecond, millisecond or second resolution, naive or tz-aware.
    Tz-aware columns keep their wall-clock time (the contract's timestamps are naive local time) and every
    timestamp is truncated to the microsecond, the finest unit DuckDB and Spark share.

    Examples
    --------
    >>> df = pd.DataFrame({"t": pd.to_datetime(["2025-01-01 10:00:00.123456789"]).tz_localize("Asia/Shanghai")})
    >>> as_table(df).execute()["t"].iloc[0]
    Timestamp('2025-01-01 10:00:00.123456')
    """
    if not isinstance(data, pd.DataFrame):
        return data
    df = data.copy(deep=False)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.DatetimeTZDtype):
            df[c] = df[c].dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(df[c].dtype):
            df[c] = df[c].dt.floor("us").astype("datetime64[us]")
    return ibis.memtable(df)


def _last_day(as_of: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """Return the last calendar day observed before the moment ``as_of`` (the day before a midnight one)."""
    return (pd.Timestamp(as_of) - pd.Timedelta(microseconds=1)).normalize()


def _day_number(ts: ibis.expr.types.TimestampValue) -> ibis.expr.types.IntegerValue:
    """Return whole days since 1970-01-01 of a timestamp's calendar day."""
    return (ts.truncate("D").epoch_seconds() / 86400.0).round().cast("int64")


def _split(orders: ibis.Table) -> tuple[ibis.Table, ibis.Table | None]:
    """Paid orders and refunds (``None`` when the table has no status column: every order is paid)."""
    if "status" not in orders.columns:
        return orders, None
    return orders.filter(orders.status == "paid"), orders.filter(orders.status == "refunded")


def group_messages(messages: pd.DataFrame | ibis.Table) -> ibis.Table:
    """Return customer messages sent in community groups: no 1:1 chats, staff posts or recalls.

    What community activity counts (a member's own words in a group). Without the optional ``sender_role`` /
    ``action`` columns every message counts as a customer's, sent.
    """
    m = as_table(messages)
    keep = m.group_id.notnull()
    if "sender_role" in m.columns:
        keep &= m.sender_role.isnull() | (m.sender_role != "staff")
    if "action" in m.columns:
        keep &= m.action.isnull() | (m.action == "send")
    if "user_id" in m.columns:
        keep &= m.user_id.notnull()
    return m.filter(keep)


def purchase_days(
    orders: pd.DataFrame | ibis.Table,
    end: str | datetime | pd.Timestamp,
    start: str | datetime | pd.Timestamp | None = None,
) -> ibis.Table:
    """Each customer's purchase occasions: days with paid orders, net of the refunds that refer to them.

    Orders and refunds through the day ``end`` are used (refunds after ``end`` are not yet known). A refund
    refers to the customer's latest purchase day whose first paid order is at or before the refund; the day's net
    amount is its paid amount minus those refunds. A day with refunds is an occasion while more than half a cent
    remains; a day without refunds always is (a free order is still a purchase: CDNOW has some).

    Parameters
    ----------
    orders : DataFrame or ibis.Table
        The contract ``orders`` table.
    end : str or datetime
        Last day observed (inclusive).
    start : str or datetime, optional
        Keep only occasions on or after this day (refunds are still matched over the whole history).

    Returns
    -------
    ibis.Table
        ``user_id``, ``day`` (date), ``d`` (day number since 1970-01-01), ``first_paid_at`` (first paid order of
        the day), ``paid`` (gross paid amount), ``orders`` (paid orders), ``refunded`` (refunds referring to the
        day) and ``amount`` (net), occasions only.

    Examples
    --------
    >>> o = pd.DataFrame({"user_id": ["u", "u", "u", "u"], "amount": [100.0, 100.0, 50.0, 20.0],
    ...                   "status": ["paid", "refunded", "paid", "refunded"],
    ...                   "ordered_at": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:12",
    ...                                                 "2025-01-05 09:00", "2025-01-09 09:00"])})
    >>> days = purchase_days(o, "2025-01-31").execute()  # the 1 Jan order was refunded in full
    >>> days.assign(day=days["day"].astype(str))[["day", "paid", "refunded", "amount"]].to_dict("records")
    [{'day': '2025-01-05', 'paid': 50.0, 'refunded': 20.0, 'amount': 30.0}]
    """
    o = as_table(orders)
    o = o.filter(o.ordered_at < _ts(pd.Timestamp(end).normalize() + pd.Timedelta(days=1)))
    paid, refunds = _split(o)
    days = paid.group_by([paid.user_id, paid.ordered_at.date().name("day")]).aggregate(
        first_paid_at=paid.ordered_at.min(), paid=paid.amount.sum().round(2), orders=paid.count()
    )
    if refunds is None:
        out = days.mutate(refunded=ibis.literal(0.0), amount=days.paid)
    else:
        # the latest day whose first paid order is at or before a refund is the day of the latest paid order at or
        # before it: the paid orders of customers with refunds give it without grouping the days a second time
        p = paid.semi_join(refunds.select("user_id").distinct(), "user_id")
        ev_days = p.select(
            "user_id", ts=p.ordered_at, kind=ibis.literal(0), day=p.ordered_at.date(), amount=ibis.literal(0.0)
        )
        ev_ref = refunds.select(
            "user_id", ts=refunds.ordered_at, kind=ibis.literal(1), day=ibis.null("date"), amount=refunds.amount
        )
        ev = ev_days.union(ev_ref)
        w = ibis.cumulative_window(group_by="user_id", order_by=["ts", "kind"])
        ev = ev.mutate(ref_day=ev.day.max().over(w))
        r = ev.filter((ev.kind == 1) & ev.ref_day.notnull())
        per_day = r.group_by(["user_id", r.ref_day.name("day")]).aggregate(refunded=r.amount.sum().round(2))
        j = days.left_join(per_day, ["user_id", "day"]).drop("user_id_right", "day_right")
        refunded = j.refunded.fill_null(0.0)
        out = j.mutate(refunded=refunded, amount=(j.paid - refunded).round(2))
    out = out.filter((out.refunded <= 0) | (out.amount > 0.005))
    out = out.mutate(d=_day_number(out.first_paid_at))
    if start is not None:
        out = out.filter(out.day >= ibis.date(pd.Timestamp(start).date()))
    return out.select("user_id", "day", "d", "first_paid_at", "paid", "orders", "refunded", "amount")


def messages_followed_by_purchase(
    messages: pd.DataFrame | ibis.Table,
    orders: pd.DataFrame | ibis.Table,
    end: str | datetime | pd.Timestamp,
    days: int = 7,
    key: str = "topic",
) -> ibis.Table:
    """Count each customer's messages per ``key`` and how many were followed by a purchase within ``days``.

    A message is *followed* when its sender has a purchase occasion (:func:`purchase_days`: paid, net of refunds)
    whose first paid order is after the message and at most ``days`` days later. Only messages sent at least
    ``days`` days before the end of ``end`` count: for later ones the window is still open, and an open window is
    not a non-purchase.

    Parameters
    ----------
    messages : DataFrame or ibis.Table
        ``user_id``, ``sent_at`` and the ``key`` column (e.g. each message's topic).
    orders : DataFrame or ibis.Table
        The contract ``orders`` table.
    end : str or datetime
        Last day observed (inclusive).
    days : int
        Length of the follow-up window.
    key : str
        Column to count by.

    Returns
    -------
    ibis.Table
        ``user_id``, ``key``, ``messages``, ``followed``.

    Examples
    --------
    >>> m = pd.DataFrame({"user_id": ["u", "u", "v"], "topic": [0, 1, 0],
    ...                   "sent_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-20 09:00", "2025-01-02 09:00"])})
    >>> o = pd.DataFrame({"user_id": ["u"], "amount": [10.0], "ordered_at": pd.to_datetime(["2025-01-03"])})
    >>> t = messages_followed_by_purchase(m, o, "2025-01-31").execute()
    >>> t.sort_values(["user_id", "topic"]).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'user_id': 'u', 'topic': 0, 'messages': 1, 'followed': 1},
     {'user_id': 'u', 'topic': 1, 'messages': 1, 'followed': 0},
     {'user_id': 'v', 'topic': 0, 'messages': 1, 'followed': 0}]
    """
    last = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
    m = as_table(messages)
    m = m.filter(m.user_id.notnull() & (m.sent_at < _ts(last - pd.Timedelta(days=days))))
    m = m.select("user_id", "sent_at", key).mutate(mid=ibis.row_number())
    p = purchase_days(orders, end).select("user_id", "first_paid_at")
    hit = m.join(
        p,
        [
            m.user_id == p.user_id,
            p.first_paid_at > m.sent_at,
            p.first_paid_at <= m.sent_at + ibis.interval(days=days),
        ],
    )
    hits = hit.select(hit.mid).distinct()
    m = m.mutate(followed=m.mid.isin(hits.mid).cast("int64"))
    out = m.group_by(["user_id", key]).aggregate(messages=m.count(), followed=m.followed.sum())
    return out.order_by(["user_id", key])


def window_sales(
    orders: pd.DataFrame | ibis.Table, start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Per customer over the days ``start..end``: gross sales, refunds processed, net sales and occasions.

    Returns
    -------
    ibis.Table
        ``user_id``, ``gross`` (paid orders placed in the window), ``refunds`` (refunds processed in the
        window), ``net`` (gross − refunds), ``paid_orders``, ``purchase_days`` (occasions in the window) and
        ``orders`` (paid orders on those occasions) — customers with any order, refund or occasion in the window.
    """
    o = as_table(orders)
    lo, hi = _ts(pd.Timestamp(start).normalize()), _ts(pd.Timestamp(end).normalize() + pd.Timedelta(days=1))
    o = o.filter((o.ordered_at >= lo) & (o.ordered_at < hi))
    is_paid = (o.status == "paid") if "status" in o.columns else ibis.literal(True)
    money = o.group_by("user_id").aggregate(
        gross=ibis.ifelse(is_paid, o.amount, 0.0).sum().round(2),
        refunds=ibis.ifelse(is_paid, 0.0, o.amount).sum().round(2),
        paid_orders=is_paid.cast("int64").sum(),
    )
    occ = purchase_days(orders, end, start)
    occ = occ.group_by("user_id").aggregate(purchase_days=occ.count(), orders=occ.orders.sum())
    j = money.outer_join(occ, "user_id")
    return j.select(
        user_id=ibis.coalesce(j.user_id, j.user_id_right),
        gross=j.gross.fill_null(0.0),
        refunds=j.refunds.fill_null(0.0),
        net=(j.gross.fill_null(0.0) - j.refunds.fill_null(0.0)).round(2),
        paid_orders=j.paid_orders.fill_null(0),
        purchase_days=j.purchase_days.fill_null(0),
        orders=j.orders.fill_null(0),
    )


def order_summary(orders: pd.DataFrame | ibis.Table, as_of: str | datetime | pd.Timestamp) -> ibis.Table:
    """Per-user order facts at ``as_of``: purchase occasions, gross, refunds and net sales, first / last purchase.

    Parameters
    ----------
    orders : DataFrame or ibis.Table
        The contract ``orders`` table.
    as_of : str or datetime
        Snapshot time; later orders and refunds are ignored.

    Returns
    -------
    ibis.Table
        One row per user with an order or refund: ``orders`` (paid orders on purchase occasions),
        ``purchase_days`` (occasions), ``gmv`` (gross paid amount), ``refunds``, ``net_gmv`` (gmv − refunds),
        ``first_order_at``, ``last_order_at`` (first paid order of the first / last occasion) and
        ``recency_days`` (days from the last occasion to ``as_of``; null without one).
    """
    ts = _ts(as_of)
    o = as_table(orders)
    o = o.filter(o.ordered_at < ts)
    is_paid = (o.status == "paid") if "status" in o.columns else ibis.literal(True)
    money = o.group_by("user_id").aggregate(
        gmv=ibis.ifelse(is_paid, o.amount, 0.0).sum().round(2),
        refunds=ibis.ifelse(is_paid, 0.0, o.amount).sum().round(2),
    )
    occ = purchase_days(o, _last_day(as_of))
    occ = occ.group_by("user_id").aggregate(
        orders=occ.orders.sum(),
        purchase_days=occ.count(),
        first_order_at=occ.first_paid_at.min(),
        last_order_at=occ.first_paid_at.max(),
    )
    g = money.left_join(occ, "user_id").drop("user_id_right")
    return g.mutate(
        orders=g.orders.fill_null(0),
        purchase_days=g.purchase_days.fill_null(0),
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
        t = t.filter(t.touched_at <= _ts(until))
    ev = ibis.struct({"t": t.touched_at, "k": t.touch_type})
    g = t.group_by("user_id").aggregate(ev=ev.collect(), touches=t.count())
    return g.mutate(path=g.ev.sort().map(lambda s: s.k)).drop("ev")


def _occasions_after_add(orders: ibis.Table, contacts: ibis.Table, as_of) -> ibis.Table:
    o = purchase_days(orders, _last_day(as_of))
    c = contacts.select("user_id", "added_at", "channel")
    j = o.join(c, "user_id")
    return j.filter(j.first_paid_at >= j.added_at)


def first_orders_after_add(
    orders: pd.DataFrame | ibis.Table, contacts: pd.DataFrame | ibis.Table, as_of: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Each contact's first purchase occasion after it was added (the conversion of the acquisition funnel).

    Orders placed before the contact was added (existing customers) do not count as conversions, nor does an
    order that was refunded in full (it is no purchase occasion).

    Returns
    -------
    ibis.Table
        ``user_id``, ``first_order_at``, ``days_to_first_order`` (from ``added_at``).
    """
    j = _occasions_after_add(as_table(orders), as_table(contacts), as_of)
    g = j.group_by("user_id").aggregate(first_order_at=j.first_paid_at.min(), added_at=j.added_at.min())
    days = (g.first_order_at.epoch_seconds() - g.added_at.epoch_seconds()) / 86400.0
    return g.mutate(days_to_first_order=days).drop("added_at")


def first_purchase_after_add(
    orders: pd.DataFrame | ibis.Table, contacts: pd.DataFrame | ibis.Table, as_of: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Each contact's first purchase occasion after it was added, with that day's net amount (its first order value).

    Like :func:`first_orders_after_add`, with the occasion's value (same-day orders added, refunds netted), as the
    repurchase models count purchases.

    Returns
    -------
    ibis.Table
        ``user_id``, ``first_order_at``, ``days_to_first_order`` (from ``added_at``), ``first_purchase_value``.
    """
    j = _occasions_after_add(as_table(orders), as_table(contacts), as_of)
    g = j.group_by("user_id").aggregate(first_d=j.d.min())
    f = j.join(g, [j.user_id == g.user_id, j.d == g.first_d])
    days = (f.first_paid_at.epoch_seconds() - f.added_at.epoch_seconds()) / 86400.0
    return f.select(
        user_id=f.user_id, first_order_at=f.first_paid_at, days_to_first_order=days, first_purchase_value=f.amount
    )


def cohort_revenue(
    orders: pd.DataFrame | ibis.Table,
    contacts: pd.DataFrame | ibis.Table,
    as_of: str | datetime | pd.Timestamp,
    period_days: int = 30,
) -> ibis.Table:
    """Net sales and buyers per acquisition cohort (add month), channel and period since each contact's add.

    Period ``k`` covers days ``[k * period_days, (k + 1) * period_days)`` after the contact was added; purchases
    before the add are excluded. Sales are purchase occasions at their net amounts (refunds netted).

    Returns
    -------
    ibis.Table
        ``cohort`` (month of add), ``channel``, ``period``, ``gmv`` (net), ``buyers``, ``orders``.
    """
    j = _occasions_after_add(as_table(orders), as_table(contacts), as_of)
    period = ((j.first_paid_at.epoch_seconds() - j.added_at.epoch_seconds()) / (86400.0 * period_days)).floor()
    j = j.mutate(cohort=j.added_at.truncate("M"), period=period.cast("int64"))
    return j.group_by(["cohort", "channel", "period"]).aggregate(
        gmv=j.amount.sum().round(2), buyers=j.user_id.nunique(), orders=j.orders.sum()
    )


def purchase_summary(
    orders: pd.DataFrame | ibis.Table,
    end: str | datetime | pd.Timestamp,
    calibration_end: str | datetime | pd.Timestamp | None = None,
) -> ibis.Table:
    """Per-customer purchase history in whole days, the input of BG/NBD and Gamma-Gamma.

    Purchases are purchase occasions (one per day, refunds netted; a fully refunded day is not a purchase) at
    their net amounts.

    Parameters
    ----------
    orders : DataFrame or ibis.Table
        ``user_id``, ``ordered_at``, ``amount`` (and optionally ``status``).
    end : str or datetime
        Last day observed (inclusive).
    calibration_end : str or datetime, optional
        Last day of the calibration period; then the history columns describe the calibration period as it was
        known at its end (later refunds do not reach back) and ``*_holdout`` columns the days after it, for
        customers whose first purchase is in calibration.

    Returns
    -------
    ibis.Table
        ``user_id``, ``frequency`` (purchase days − 1), ``recency_days`` (first to last purchase day),
        ``T_days`` (first purchase day to the end of calibration), ``monetary_value`` (mean net amount of the
        repeat purchase days, 0 without repeats), ``first_purchase_day``; with ``calibration_end`` also
        ``frequency_holdout``, ``monetary_value_holdout`` and ``duration_holdout_days``.
    """
    end_day = pd.Timestamp(end).normalize()
    cal_day = pd.Timestamp(calibration_end).normalize() if calibration_end is not None else end_day
    # money is rounded to the cent after every sum: parallel engines add in any order, and the last bits would
    # otherwise differ from run to run
    cal_d = int(cal_day.timestamp() // 86400)
    # the calibration history is what was known at its end: a refund processed later does not reach back into it
    cal = purchase_days(orders, cal_day).select("user_id", "d", "amount")
    per = cal.group_by("user_id").aggregate(
        first_d=cal.d.min(), last_d=cal.d.max(), n=cal.count(), total=cal.amount.sum().round(2)
    )
    first_amount = cal.join(per.select("user_id", "first_d"), "user_id")
    first_amount = first_amount.filter(first_amount.d == first_amount.first_d).select("user_id", first_amt=_.amount)
    s = per.join(first_amount, "user_id")
    freq = (s.n - 1).cast("int64")
    out = s.select(
        "user_id",
        frequency=freq,
        recency_days=(s.last_d - s.first_d).cast("float64"),
        T_days=(cal_d - s.first_d).cast("float64"),
        monetary_value=ibis.ifelse(freq > 0, (s.total - s.first_amt) / freq.cast("float64"), 0.0),
        first_purchase_day=s.first_d,
    )
    if calibration_end is None:
        return out
    days = purchase_days(orders, end_day).select("user_id", "d", "amount")
    hold = days.filter(days.d > cal_d)
    h = hold.group_by("user_id").aggregate(frequency_holdout=hold.count(), amount_holdout=hold.amount.sum().round(2))
    out = out.left_join(h, "user_id").drop("user_id_right")
    fh = out.frequency_holdout.fill_null(0).cast("int64")
    return out.mutate(
        frequency_holdout=fh,
        monetary_value_holdout=ibis.ifelse(fh > 0, out.amount_holdout / fh.cast("float64"), 0.0),
        duration_holdout_days=ibis.literal(float((end_day - cal_day).days)),
    ).drop("amount_holdout")


def purchase_opportunities(
    orders: pd.DataFrame | ibis.Table, end: str | datetime | pd.Timestamp, period_days: int
) -> ibis.Table:
    """Per-customer history in discrete opportunities of ``period_days`` days, the input of BG/BB.

    Opportunity k (k = 1, 2, …) of a customer covers the days [first + k·P, first + (k+1)·P) after their first
    purchase day (period 0 holds the first purchase). Only complete opportunities up to ``end`` count.

    Returns
    -------
    ibis.Table
        ``user_id``, ``frequency`` (x: opportunities with a purchase), ``recency`` (t_x: the last of them, 0 if
        none), ``periods`` (n: complete opportunities observed).
    """
    if period_days < 1:
        raise ValueError(f"period_days must be at least 1, not {period_days}")
    end_day = pd.Timestamp(end).normalize()
    end_d = int(end_day.timestamp() // 86400)
    days = purchase_days(orders, end_day).select("user_id", "d")  # purchase occasions: refunds netted
    first = days.group_by("user_id").aggregate(first_d=days.d.min())
    j = days.join(first, "user_id")
    n = ((end_d - j.first_d + 1) // period_days).cast("int64")
    j = j.mutate(k=((j.d - j.first_d) // period_days).cast("int64"), n=n)
    j = j.mutate(k_in=ibis.ifelse((j.k >= 1) & (j.k <= j.n), j.k, ibis.null("int64")))
    out = j.group_by("user_id").aggregate(frequency=j.k_in.nunique(), recency=j.k_in.max(), periods=j.n.max())
    return out.mutate(
        frequency=out.frequency.cast("int64"), recency=out.recency.fill_null(0).cast("int64"), periods=out.periods
    )


def touches_before_first_purchase(
    touches: pd.DataFrame | ibis.Table, orders: pd.DataFrame | ibis.Table, end: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Touches per touch type received before the contact's first purchase occasion (or by ``end`` if none).

    The touches that could have caused a first order: the denominator of first-order credit *per touch* (a touch
    after the first purchase cannot earn first-order credit, so counting it would dilute a channel's efficiency).

    Returns
    -------
    ibis.Table
        ``touch_type``, ``touches``.
    """
    t = as_table(touches)
    t = t.filter(t.touched_at < _ts(pd.Timestamp(end).normalize() + pd.Timedelta(days=1)))
    occ = purchase_days(orders, end)
    first = occ.group_by("user_id").aggregate(first_at=occ.first_paid_at.min())
    j = t.left_join(first, "user_id")
    j = j.filter(j.first_at.isnull() | (j.touched_at < j.first_at))
    return j.group_by("touch_type").aggregate(touches=j.count())


def touch_counts(
    touches: ibis.Table, start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Touches per user and type received in ``[start, end)``, one column per touch type (wide).

    Returns
    -------
    ibis.Table
        ``user_id``, ``touches`` (all types) and ``touches_<type>`` for each type present.
    """
    t = touches.filter((touches.touched_at >= _ts(start)) & (touches.touched_at < _ts(end)))
    kinds = ["moments", "group_broadcast", "private_chat", "livestream", "coupon", "official_account", "sms"]
    aggs = {f"touches_{k}": (t.touch_type == k).cast("int64").sum() for k in kinds}
    return t.group_by("user_id").aggregate(touches=t.count(), **aggs)


def purchase_days_ranked(
    orders: pd.DataFrame | ibis.Table, end: str | datetime | pd.Timestamp, max_rank: int = 2
) -> ibis.Table:
    """Each customer's first ``max_rank`` purchase occasions, numbered 1, 2, ….

    Returns
    -------
    ibis.Table
        ``user_id``, ``day`` (date), ``n`` (1 = first purchase day).
    """
    days = purchase_days(orders, end).select("user_id", "day")
    d = days.mutate(n=ibis.row_number().over(ibis.window(group_by="user_id", order_by="day")) + 1)
    return d.filter(d.n <= max_rank)


def purchase_day_counts(
    orders: pd.DataFrame | ibis.Table,
    end: str | datetime | pd.Timestamp,
    first_through: str | datetime | pd.Timestamp,
) -> ibis.Table:
    """Per day: first purchases and repeat purchase occasions of the customers who first bought by ``first_through``.

    The input of the BG/NBD tracking plot (cumulative repeat purchases, actual vs model), as one row per day
    instead of one per purchase.

    Returns
    -------
    ibis.Table
        ``day`` (date), ``first`` (customers whose first purchase day it is), ``repeats`` (repeat purchase days
        of those customers that day); purchases through ``end``.
    """
    days = purchase_days(orders, end).select("user_id", "day")
    first = days.group_by("user_id").aggregate(first_day=days.day.min())
    first = first.filter(first.first_day <= ibis.date(pd.Timestamp(first_through).date()))
    j = days.join(first, "user_id")
    return (
        j.group_by("day")
        .aggregate(
            first=(j.day == j.first_day).cast("int64").sum(),
            repeats=(j.day > j.first_day).cast("int64").sum(),
        )
        .order_by("day")
    )


def interpurchase_gaps(orders: pd.DataFrame | ibis.Table, end: str | datetime | pd.Timestamp) -> ibis.Table:
    """Histogram of days between consecutive purchase occasions, over all customers.

    Returns
    -------
    ibis.Table
        ``gap_days`` (whole days) and ``gaps`` (count).
    """
    days = purchase_days(orders, end).select("user_id", "d")
    w = ibis.window(group_by="user_id", order_by="d")
    d = days.mutate(prev=days.d.lag().over(w))
    d = d.filter(d.prev.notnull())
    return d.group_by((d.d - d.prev).cast("int64").name("gap_days")).aggregate(gaps=d.count())


def campaign_window_outcomes(
    orders: pd.DataFrame | ibis.Table, assignments: pd.DataFrame | ibis.Table, campaigns: pd.DataFrame | ibis.Table
) -> ibis.Table:
    """Per randomised contact: its arm and its purchase occasions during its campaign's window (start..end).

    Returns
    -------
    ibis.Table
        ``campaign_id``, ``user_id``, ``arm``, ``converted`` (a purchase occasion in the window), ``value`` (net
        sales of those occasions), ``orders`` (paid orders on them).
    """
    camps = as_table(campaigns)
    c = camps.select("campaign_id", "start", "end")
    a = as_table(assignments).join(c, "campaign_id")
    last = camps.aggregate(last=camps.end.max()).to_pyarrow()  # small: one row
    end = pd.Timestamp(last.column(0)[0].as_py()) if last.num_rows and last.column(0)[0].is_valid else None
    occ = purchase_days(orders, end if end is not None else pd.Timestamp.max.normalize())
    o = occ.select("user_id", "day", "orders", "amount")
    j = a.left_join(o, "user_id")
    inside = (j.day >= j.start.cast("date")) & (j.day <= j.end.cast("date"))
    inside = inside.fill_null(False)
    g = j.group_by(["campaign_id", "user_id", "arm"]).aggregate(
        orders=ibis.ifelse(inside, j.orders, 0).fill_null(0).sum(),
        value=ibis.ifelse(inside, j.amount, 0.0).fill_null(0.0).sum().round(2),
    )
    return g.mutate(converted=g.orders > 0)


def window_orders(
    orders: pd.DataFrame | ibis.Table, start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Buyers of the days ``start..end``: customers with a purchase occasion in the window, with their figures.

    Returns
    -------
    ibis.Table
        ``user_id``, ``orders`` (paid orders on occasions), ``purchase_days`` (occasions), ``gmv`` (their net
        amounts).
    """
    o = purchase_days(orders, end, start)
    return o.group_by("user_id").aggregate(orders=o.orders.sum(), purchase_days=o.count(), gmv=o.amount.sum().round(2))


def user_features(
    contacts: ibis.Table,
    orders: ibis.Table,
    as_of: str | datetime | pd.Timestamp,
    touches: ibis.Table | None = None,
    messages: ibis.Table | None = None,
) -> ibis.Table:
    """Per-contact RFM, tenure and engagement at the snapshot ``as_of`` (the input of user tiers).

    Every contact added before ``as_of`` gets one row, buyers or not. Orders, touches and messages after
    ``as_of`` are ignored, so the same function gives the features at any earlier snapshot (tier migration).

    Parameters
    ----------
    contacts, orders : ibis.Table
        The contract tables.
    as_of : str or datetime
        Snapshot time.
    touches, messages : ibis.Table, optional
        When given, add ``touches`` (received) and ``messages`` (sent in community groups) before ``as_of``.

    Returns
    -------
    ibis.Table
        ``user_id``, ``channel``, ``tenure_days`` (since added), ``is_friend`` (not deleted at ``as_of``),
        ``orders`` (paid), ``purchase_days``, ``gmv`` (paid), ``refunds``, ``net_gmv`` (refunds netted, never
        below 0), ``recency_days`` (days since the last paid order; null for contacts who never bought),
        ``orders_per_30d`` (paid orders per 30 days of tenure, tenure floored at 30 days),
        ``avg_order_value`` (net GMV per paid order; null without orders), and ``touches`` / ``messages``.
    """
    ts = _ts(as_of)
    c = contacts.filter(contacts.added_at <= ts)
    tenure = (ts.epoch_seconds() - c.added_at.epoch_seconds()) / 86400.0
    friend = c.removed_at.isnull() | (c.removed_at > ts) if "removed_at" in c.columns else ibis.literal(True)
    base = c.select("user_id", "channel", tenure_days=tenure, is_friend=friend)
    o = order_summary(orders, as_of).select(
        "user_id", "orders", "purchase_days", "gmv", "refunds", "net_gmv", "recency_days"
    )
    j = base.left_join(o, "user_id").drop("user_id_right")
    j = j.mutate(
        orders=j.orders.fill_null(0),
        purchase_days=j.purchase_days.fill_null(0),
        gmv=j.gmv.fill_null(0.0),
        refunds=j.refunds.fill_null(0.0),
        net_gmv=ibis.greatest(j.net_gmv.fill_null(0.0), 0.0),
    )
    j = j.mutate(
        orders_per_30d=j.orders * 30.0 / ibis.greatest(j.tenure_days, 30.0),
        avg_order_value=ibis.ifelse(j.orders > 0, j.net_gmv / j.orders, ibis.null("float64")),
    )
    messages = group_messages(messages) if messages is not None else None
    for name, table, time_col in (("touches", touches, "touched_at"), ("messages", messages, "sent_at")):
        if table is None:
            continue
        t = table.filter(table[time_col] <= ts)
        counts = t.group_by("user_id").aggregate(**{f"{name}_n": t.count()})
        j = j.left_join(counts, "user_id").drop("user_id_right")
        j = j.mutate(**{name: j[f"{name}_n"].fill_null(0)}).drop(f"{name}_n")
    return j.order_by("user_id")


# ---------------------------------------------------------------------------------------------------------------
# Uplift and targeting (helpers.uplift, helpers.targeting): features strictly before each campaign's assignment date,
# window outcomes beyond orders, and each contact's messaging state at a snapshot.
# ---------------------------------------------------------------------------------------------------------------

#: Touch types that are messages sent to the customer (cool-down, monthly cap); Moments posts and livestreams are not.
MESSAGE_TYPES = ("private_chat", "group_broadcast", "coupon")


def _assigned(assignments: ibis.Table, campaigns: ibis.Table) -> ibis.Table:
    """Add ``assigned_at``: 00:00 of the campaign's first day (the contract has no assignment time)."""
    c = campaigns.select("campaign_id", assigned_at=campaigns.start.cast("timestamp"), end_day=campaigns.end)
    return assignments.select("campaign_id", "user_id", "arm").join(c, "campaign_id")


def pretreatment_features(
    assignments: ibis.Table,
    campaigns: ibis.Table,
    contacts: ibis.Table,
    orders: ibis.Table,
    touches: ibis.Table | None = None,
    recent_days: int = 30,
) -> ibis.Table:
    """Per assigned contact: features from events strictly before its campaign's assignment date (uplift inputs).

    Every event used has a timestamp ``< assigned_at`` (00:00 of the campaign's first day), so nothing the
    campaign caused can leak into the features. The latest timestamps used are returned (``last_order_at``,
    ``last_touch_at``) so :func:`helpers.uplift.check_pretreatment` can verify it. :func:`snapshot_features` gives
    the same columns for every contact at a later snapshot, to score them with the fitted model.

    Parameters
    ----------
    assignments, campaigns, contacts, orders : ibis.Table
        The contract tables.
    touches : ibis.Table, optional
        When given, adds touch counts in the ``recent_days`` before assignment, per message type.
    recent_days : int
        Window of the "recent" counts (orders and touches).

    Returns
    -------
    ibis.Table
        ``campaign_id``, ``user_id``, ``arm``, ``assigned_at``, ``channel``, ``tenure_days``, ``orders_before``
        (paid), ``gmv_before``, ``orders_recent``, ``days_since_last_order`` (null without an earlier order),
        ``last_order_at``; with ``touches`` also ``touches_recent``, ``private_chat_recent``,
        ``group_broadcast_recent``, ``coupon_recent``, ``days_since_last_touch`` and ``last_touch_at``.
    """
    units = _assigned(assignments, campaigns).drop("end_day")
    out = _features_before(units, contacts, orders, touches, recent_days)
    return out.order_by(["campaign_id", "user_id"])


def snapshot_features(
    contacts: ibis.Table,
    orders: ibis.Table,
    as_of: str | datetime | pd.Timestamp,
    touches: ibis.Table | None = None,
    recent_days: int = 30,
    users: Sequence[str] | pd.Index | None = None,
) -> ibis.Table:
    """Return the :func:`pretreatment_features` columns for every contact added before ``as_of``, measured at ``as_of``.

    The input of an uplift model's predictions for the next campaign: the same definitions as in training, with
    ``assigned_at = as_of`` (events strictly before it).

    Parameters
    ----------
    contacts, orders : ibis.Table
        The contract tables.
    as_of : str or datetime
        Snapshot time; events at or after it are not used.
    touches : ibis.Table, optional
        Adds the touch columns, as in :func:`pretreatment_features`.
    recent_days : int
        Window of the "recent" counts.
    users : sequence of str, optional
        Only these contacts (for example those a contact list may name): at 1 M contacts the features of the
        quarter who can be listed take a third of the time of everyone's.

    Returns
    -------
    ibis.Table
        ``user_id``, ``assigned_at`` and the feature columns of :func:`pretreatment_features`.
    """
    ts = _ts(as_of)
    c = contacts.filter(contacts.added_at < ts)
    if users is not None:
        c = c.semi_join(as_table(pd.DataFrame({"user_id": pd.Index(users, dtype=object).astype(str)})), "user_id")
    units = c.select("user_id", campaign_id=ibis.literal("(snapshot)"), arm=ibis.literal("(none)"), assigned_at=ts)
    out = _features_before(units, contacts, orders, touches, recent_days)
    return out.drop("campaign_id", "arm").order_by("user_id")


def _features_before(
    units: ibis.Table, contacts: ibis.Table, orders: ibis.Table, touches: ibis.Table | None, recent_days: int
) -> ibis.Table:
    """Compute the uplift features of ``units`` (campaign, user, arm, ``assigned_at``) from earlier events."""
    a = units
    c = contacts.select("user_id", "added_at", "channel")
    base = a.join(c, "user_id")
    base = base.mutate(tenure_days=(base.assigned_at.epoch_seconds() - base.added_at.epoch_seconds()) / 86400.0)
    base = base.drop("added_at")
    recent = ibis.interval(days=recent_days)

    o = orders.filter(orders.status == "paid") if "status" in orders.columns else orders
    o = o.select("user_id", "ordered_at", "amount")
    jo = a.select("campaign_id", "user_id", "assigned_at").join(o, "user_id")
    jo = jo.filter(jo.ordered_at < jo.assigned_at)
    og = jo.group_by(["campaign_id", "user_id"]).aggregate(
        orders_before=jo.count(),
        gmv_before=jo.amount.sum().round(2),
        orders_recent=(jo.ordered_at >= jo.assigned_at - recent).cast("int64").sum(),
        last_order_at=jo.ordered_at.max(),
    )
    out = base.left_join(og, ["campaign_id", "user_id"]).drop("campaign_id_right", "user_id_right")
    out = out.mutate(
        orders_before=out.orders_before.fill_null(0),
        gmv_before=out.gmv_before.fill_null(0.0),
        orders_recent=out.orders_recent.fill_null(0),
        days_since_last_order=(out.assigned_at.epoch_seconds() - out.last_order_at.epoch_seconds()) / 86400.0,
    )
    if touches is not None:
        t = touches.select("user_id", "touched_at", "touch_type")
        jt = a.select("campaign_id", "user_id", "assigned_at").join(t, "user_id")
        jt = jt.filter(jt.touched_at < jt.assigned_at)
        rec = jt.touched_at >= jt.assigned_at - recent
        tg = jt.group_by(["campaign_id", "user_id"]).aggregate(
            touches_recent=rec.cast("int64").sum(),
            **{f"{k}_recent": (rec & (jt.touch_type == k)).cast("int64").sum() for k in MESSAGE_TYPES},
            last_touch_at=jt.touched_at.max(),
        )
        out = out.left_join(tg, ["campaign_id", "user_id"]).drop("campaign_id_right", "user_id_right")
        counts = ["touches_recent", *(f"{k}_recent" for k in MESSAGE_TYPES)]
        out = out.mutate(
            **{k: out[k].fill_null(0) for k in counts},
            days_since_last_touch=(out.assigned_at.epoch_seconds() - out.last_touch_at.epoch_seconds()) / 86400.0,
        )
    return out


def campaign_window_deletions(
    assignments: ibis.Table, campaigns: ibis.Table, contacts: ibis.Table, extra_days: int = 0
) -> ibis.Table:
    """Flag each randomised contact that deleted us between its campaign's start and end + ``extra_days``.

    The outcome of the "do-not-disturb" model: a message that makes a customer delete the brand's account has a
    negative effect however many orders it brings elsewhere. Contacts already removed before the campaign started
    count as not deleted *in* the window (they should not have been assigned).

    Returns
    -------
    ibis.Table
        ``campaign_id``, ``user_id``, ``arm``, ``deleted`` (bool).
    """
    a = _assigned(assignments, campaigns)
    c = contacts.select("user_id", "removed_at")
    j = a.join(c, "user_id")
    stop = j.end_day.cast("timestamp") + ibis.interval(days=1 + extra_days)
    deleted = (j.removed_at >= j.assigned_at) & (j.removed_at < stop)
    return j.select("campaign_id", "user_id", "arm", deleted=deleted.fill_null(False))


def contact_state(
    contacts: ibis.Table,
    orders: ibis.Table,
    as_of: str | datetime | pd.Timestamp,
    touches: ibis.Table | None = None,
    message_types: tuple[str, ...] = MESSAGE_TYPES,
) -> ibis.Table:
    """Each contact's state for the contact list at ``as_of`` (exclusive): friend, owner, last order, messages.

    "This month" is the calendar month that contains ``as_of`` — the month in which the list will be used — so a
    monthly messaging cap counts the messages already sent in it (none when ``as_of`` is the first of the month).

    Parameters
    ----------
    contacts, orders : ibis.Table
        The contract tables (``staff_id`` and ``removed_at`` are optional columns).
    as_of : str or datetime
        Snapshot time; events at or after it are ignored.
    touches : ibis.Table, optional
        When given, adds the message columns.
    message_types : tuple of str
        Touch types that count as messages.

    Returns
    -------
    ibis.Table
        ``user_id``, ``staff_id`` (null without the column), ``is_friend``, ``last_order_at``,
        ``days_since_last_order`` (null for contacts who never bought), ``orders`` (paid orders on purchase
        occasions; ``last_order_at`` is the first order of the last occasion); with ``touches`` also
        ``last_message_at``, ``days_since_last_message``, ``messages_this_month`` and ``broadcasts_this_month``.
    """
    ts = _ts(as_of)
    month = _ts(pd.Timestamp(as_of).to_period("M").start_time)
    c = contacts.filter(contacts.added_at < ts)
    friend = (c.removed_at.isnull() | (c.removed_at >= ts)) if "removed_at" in c.columns else ibis.literal(True)
    staff = c.staff_id if "staff_id" in c.columns else ibis.null("string")
    base = c.select("user_id", staff_id=staff, is_friend=friend)
    o = purchase_days(orders, _last_day(as_of))  # purchase occasions: a cancelled order is no purchase
    og = o.group_by("user_id").aggregate(orders=o.orders.sum(), last_order_at=o.first_paid_at.max())
    out = base.left_join(og, "user_id").drop("user_id_right")
    out = out.mutate(
        orders=out.orders.fill_null(0),
        days_since_last_order=(ts.epoch_seconds() - out.last_order_at.epoch_seconds()) / 86400.0,
    )
    if touches is not None:
        t = touches.filter(touches.touch_type.isin(list(message_types)) & (touches.touched_at < ts))
        this_month = t.touched_at >= month
        tg = t.group_by("user_id").aggregate(
            last_message_at=t.touched_at.max(),
            messages_this_month=this_month.cast("int64").sum(),
            broadcasts_this_month=(this_month & (t.touch_type == "group_broadcast")).cast("int64").sum(),
        )
        out = out.left_join(tg, "user_id").drop("user_id_right")
        out = out.mutate(
            messages_this_month=out.messages_this_month.fill_null(0),
            broadcasts_this_month=out.broadcasts_this_month.fill_null(0),
            days_since_last_message=(ts.epoch_seconds() - out.last_message_at.epoch_seconds()) / 86400.0,
        )
    return out.order_by("user_id")
