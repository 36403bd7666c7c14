"""Per-user and per-path reductions of the event tables, as ibis expressions (engine-independent).

Each function takes ibis tables and returns an ibis table: nothing runs until the caller executes it with
:meth:`helpers.engine.Engine.to_pandas`, on DuckDB or Spark alike.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
from ibis import _

__all__ = [
    "MESSAGE_TYPES",
    "campaign_window_deletions",
    "campaign_window_outcomes",
    "cohort_revenue",
    "contact_state",
    "first_orders_after_add",
    "interpurchase_gaps",
    "order_summary",
    "pretreatment_features",
    "purchase_day_counts",
    "purchase_days_ranked",
    "purchase_summary",
    "snapshot_features",
    "timestamp_literal",
    "touch_counts",
    "touch_paths",
    "user_features",
    "window_orders",
]


def timestamp_literal(value: str | datetime | pd.Timestamp) -> ibis.expr.types.TimestampScalar:
    """Return ``value`` as an ibis timestamp literal (naive, like the contract's timestamps)."""
    return ibis.timestamp(pd.Timestamp(value).to_pydatetime())


_ts = timestamp_literal


def _paid_through(
    orders: ibis.Table, end: str | datetime | pd.Timestamp, start: str | datetime | pd.Timestamp | None = None
) -> ibis.Table:
    """Paid orders placed on the days ``start..end`` (inclusive); every order counts without a status column."""
    o = orders.filter(orders.status == "paid") if "status" in orders.columns else orders
    o = o.filter(o.ordered_at < _ts(pd.Timestamp(end).normalize() + pd.Timedelta(days=1)))
    return o if start is None else o.filter(o.ordered_at >= _ts(pd.Timestamp(start).normalize()))


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
    ts = _ts(as_of)
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
        t = t.filter(t.touched_at <= _ts(until))
    ev = ibis.struct({"t": t.touched_at, "k": t.touch_type})
    g = t.group_by("user_id").aggregate(ev=ev.collect(), touches=t.count())
    return g.mutate(path=g.ev.sort().map(lambda s: s.k)).drop("ev")


def _paid_after_add(orders: ibis.Table, contacts: ibis.Table, as_of) -> ibis.Table:
    o = orders.filter((orders.status == "paid") & (orders.ordered_at <= _ts(as_of)))
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


def purchase_summary(
    orders: ibis.Table, end: str | datetime | pd.Timestamp, calibration_end: str | datetime | pd.Timestamp | None = None
) -> ibis.Table:
    """Per-customer purchase history in whole days, the input of BG/NBD and Gamma-Gamma.

    Purchases are counted per day (several orders on one day are one purchase occasion, their amounts added).
    Refunded orders are ignored when a ``status`` column exists.

    Parameters
    ----------
    orders : ibis.Table
        ``user_id``, ``ordered_at``, ``amount`` (and optionally ``status``).
    end : str or datetime
        Last day observed (inclusive).
    calibration_end : str or datetime, optional
        Last day of the calibration period; then the history columns describe the calibration period and
        ``*_holdout`` columns the days after it, for customers whose first purchase is in calibration.

    Returns
    -------
    ibis.Table
        ``user_id``, ``frequency`` (purchase days − 1), ``recency_days`` (first to last purchase day),
        ``T_days`` (first purchase day to the end of calibration), ``monetary_value`` (mean amount of the repeat
        purchase days, 0 without repeats), ``first_purchase``; with ``calibration_end`` also
        ``frequency_holdout``, ``monetary_value_holdout`` and ``duration_holdout_days``.
    """
    end_day = pd.Timestamp(end).normalize()
    cal_day = pd.Timestamp(calibration_end).normalize() if calibration_end is not None else end_day
    o = _paid_through(orders, end_day)
    # money is rounded to the cent after every sum: parallel engines add in any order, and the last bits would
    # otherwise differ from run to run
    days = o.group_by([o.user_id, o.ordered_at.date().name("day")]).aggregate(amount=o.amount.sum().round(2))
    epoch = days.day.cast("timestamp").epoch_seconds() / 86400.0
    days = days.mutate(d=epoch.round().cast("int64"))
    cal = days.filter(days.d <= int(cal_day.timestamp() // 86400))
    per = cal.group_by("user_id").aggregate(
        first_d=cal.d.min(), last_d=cal.d.max(), n=cal.count(), total=cal.amount.sum().round(2)
    )
    first_amount = cal.join(per.select("user_id", "first_d"), "user_id")
    first_amount = first_amount.filter(first_amount.d == first_amount.first_d).select("user_id", first_amt=_.amount)
    s = per.join(first_amount, "user_id")
    cal_d = int(cal_day.timestamp() // 86400)
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
    hold = days.filter(days.d > cal_d)
    h = hold.group_by("user_id").aggregate(frequency_holdout=hold.count(), amount_holdout=hold.amount.sum().round(2))
    out = out.left_join(h, "user_id").drop("user_id_right")
    fh = out.frequency_holdout.fill_null(0).cast("int64")
    return out.mutate(
        frequency_holdout=fh,
        monetary_value_holdout=ibis.ifelse(fh > 0, out.amount_holdout / fh.cast("float64"), 0.0),
        duration_holdout_days=ibis.literal(float((end_day - cal_day).days)),
    ).drop("amount_holdout")


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


def purchase_days_ranked(orders: ibis.Table, end: str | datetime | pd.Timestamp, max_rank: int = 2) -> ibis.Table:
    """Each customer's first ``max_rank`` purchase days (paid orders, one per day), numbered 1, 2, ….

    Returns
    -------
    ibis.Table
        ``user_id``, ``day`` (date), ``n`` (1 = first purchase day).
    """
    o = _paid_through(orders, end)
    days = o.group_by([o.user_id, o.ordered_at.date().name("day")]).aggregate()
    d = days.mutate(n=ibis.row_number().over(ibis.window(group_by="user_id", order_by="day")) + 1)
    return d.filter(d.n <= max_rank)


def purchase_day_counts(
    orders: ibis.Table, end: str | datetime | pd.Timestamp, first_through: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Per day: first purchases and repeat purchase days of the customers who first bought by ``first_through``.

    The input of the BG/NBD tracking plot (cumulative repeat purchases, actual vs model), as one row per day
    instead of one per purchase.

    Returns
    -------
    ibis.Table
        ``day`` (date), ``first`` (customers whose first purchase day it is), ``repeats`` (repeat purchase days
        of those customers that day); purchases through ``end``.
    """
    o = _paid_through(orders, end)
    days = o.group_by([o.user_id, o.ordered_at.date().name("day")]).aggregate()
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


def interpurchase_gaps(orders: ibis.Table, end: str | datetime | pd.Timestamp) -> ibis.Table:
    """Histogram of days between consecutive purchase days (paid orders), over all customers.

    Returns
    -------
    ibis.Table
        ``gap_days`` (whole days) and ``gaps`` (count).
    """
    o = _paid_through(orders, end)
    days = o.group_by([o.user_id, o.ordered_at.truncate("D").name("day")]).aggregate()
    w = ibis.window(group_by="user_id", order_by="day")
    d = days.mutate(prev=days.day.lag().over(w))
    d = d.filter(d.prev.notnull())
    gap = ((d.day.epoch_seconds() - d.prev.epoch_seconds()) / 86400.0).round().cast("int64")
    return d.group_by(gap.name("gap_days")).aggregate(gaps=d.count())


def campaign_window_outcomes(orders: ibis.Table, assignments: ibis.Table, campaigns: ibis.Table) -> ibis.Table:
    """Per randomised contact: its arm and what it bought during its campaign's window (start..end inclusive).

    Returns
    -------
    ibis.Table
        ``campaign_id``, ``user_id``, ``arm``, ``converted`` (a paid order in the window), ``value`` (paid GMV in
        the window), ``orders``.
    """
    c = campaigns.select("campaign_id", "start", "end")
    a = assignments.join(c, "campaign_id")
    o = orders.filter(orders.status == "paid").select("user_id", "ordered_at", "amount")
    j = a.left_join(o, "user_id")
    inside = (j.ordered_at >= j.start) & (j.ordered_at < j.end + ibis.interval(days=1))
    amt = ibis.ifelse(inside, j.amount, 0.0)
    g = j.group_by(["campaign_id", "user_id", "arm"]).aggregate(
        orders=inside.fill_null(False).cast("int64").sum(), value=amt.fill_null(0.0).sum().round(2)
    )
    return g.mutate(converted=g.orders > 0)


def window_orders(
    orders: ibis.Table, start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp
) -> ibis.Table:
    """Paid orders in ``start..end`` (days, inclusive), one row per buyer: orders, purchase days and GMV.

    Returns
    -------
    ibis.Table
        ``user_id``, ``orders``, ``purchase_days``, ``gmv``.
    """
    o = _paid_through(orders, end, start)
    return o.group_by("user_id").aggregate(
        orders=o.count(), purchase_days=o.ordered_at.date().nunique(), gmv=o.amount.sum().round(2)
    )


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
) -> ibis.Table:
    """Return the :func:`pretreatment_features` columns for every contact added before ``as_of``, measured at ``as_of``.

    The input of an uplift model's predictions for the next campaign: the same definitions as in training, with
    ``assigned_at = as_of`` (events strictly before it).

    Returns
    -------
    ibis.Table
        ``user_id``, ``assigned_at`` and the feature columns of :func:`pretreatment_features`.
    """
    ts = _ts(as_of)
    c = contacts.filter(contacts.added_at < ts)
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
        ``days_since_last_order`` (null for contacts who never bought), ``orders`` (paid); with ``touches`` also
        ``last_message_at``, ``days_since_last_message``, ``messages_this_month`` and ``broadcasts_this_month``.
    """
    ts = _ts(as_of)
    month = _ts(pd.Timestamp(as_of).to_period("M").start_time)
    c = contacts.filter(contacts.added_at < ts)
    friend = (c.removed_at.isnull() | (c.removed_at >= ts)) if "removed_at" in c.columns else ibis.literal(True)
    staff = c.staff_id if "staff_id" in c.columns else ibis.null("string")
    base = c.select("user_id", staff_id=staff, is_friend=friend)
    o = orders.filter(orders.status == "paid") if "status" in orders.columns else orders
    o = o.filter(o.ordered_at < ts)
    og = o.group_by("user_id").aggregate(orders=o.count(), last_order_at=o.ordered_at.max())
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
