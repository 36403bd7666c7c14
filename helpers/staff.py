r"""Staff scorecard (员工绩效): each staff member's adds, losses, sales and service, compared fairly.

A raw league table of staff is unfair: a staff member handed the cold contacts (paid-ads adds, who delete us
fastest and buy least) looks worst whatever they do. The scorecard therefore compares each staff member with what
*their own mix of contacts* would have done at the average performance — **indirect standardisation**:

.. math::

    E_s = \sum_c n_{s,c}\, \bar r_c, \qquad \mathrm{O/E}_s = \frac{O_s}{E_s}

where :math:`n_{s,c}` is staff member *s*'s adds in stratum *c*, :math:`\bar r_c` the rate of stratum *c* over
all staff and :math:`O_s` the events (deletions, first orders) observed among *s*'s adds. A stratum is a channel
and whether the relationship is the customer's first or a later one (a customer also added by a second staff
member: that relationship starts from a friend who already stayed, and is deleted at its own rate). O/E = 1 is
average for that mix; an O/E of deletions of 0.6 means 40 % fewer deletions than expected. Its interval treats
:math:`O_s` as Poisson with :math:`E_s` fixed (exact Garwood limits); rates compared between staff carry Wilson
intervals.

Everything per event is reduced in the engine (ibis: DuckDB or Spark, see :mod:`helpers.features`); only
per-staff tables come back to pandas. The unit is the **relationship** (a customer × a staff member, the
``relationships`` table; ``contacts`` when no customer has two): adds, deletions, conversions and sales are
credited to the staff member whose relationship it is.

Definitions (window = the analysis window ``start..end``, days inclusive):

- *adds*: relationships added in the window; *deletions*: relationships removed in the window; *net* = adds −
  deletions. Without removal times (``removed_at`` empty) deletions are *not measured*, never 0.
- *7 / 30-day deletion rate*: of the adds whose 7 / 30 days are observed before ``as_of``, the share removed
  within 7 / 30 days of the add.
- *first-order conversion*: of the adds of *new customers* (no purchase occasion before the add) whose
  ``conversion_days`` are observed, the share with a purchase occasion within ``conversion_days`` of the add.
- *credited net GMV, buyers*: each purchase occasion in the window (net of the refunds that refer to it, see
  :func:`helpers.features.purchase_days`) is credited to the relationships active at its time, split equally
  among them; occasions with no active relationship are credited to nobody.
- *repurchase rate*: of a staff member's credited buyers in the window, the share with two or more credited
  occasions. *90-day value per add* (realised CLV): net GMV credited within 90 days of an add, per add whose
  90 days are observed.
- *reply rate, first-reply minutes* (with a ``messages`` table of 1:1 chats): a *question* is a customer message
  in a 1:1 chat that follows a staff message or opens the chat; it is answered when the staff member writes in
  that chat within ``reply_hours``; the first-reply time is the wait until then.
- *broadcast execution rate* (with a ``broadcasts`` table): of a staff member's per-customer broadcast sends that
  were theirs to make (sent or not sent; failures because the customer was gone or had reached the day's limit
  are not theirs), the share sent.
- *loss day*: a day on which a staff member's deletions exceed the bound of their own usual share of that day's
  deletions, at ``p / (staff × days)`` (Bonferroni; see :func:`loss_days`).

Chats and broadcasts name staff members by their WeCom ``userid``; contacts exports often name them by the
follow-up person (跟进人). When the two id systems differ, :func:`staff_crosswalk` links each chat / broadcast id
to the relationship id with which it shares most customers, and says how cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import ibis
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from helpers.base import FittedModel
from helpers.definitions import NOT_MEASURED, input_missing, mark_not_measured
from helpers.features import as_table, purchase_days, timestamp_literal
from helpers.stats import poisson_interval, wilson_interval

__all__ = [
    "CATALOG",
    "StaffScorecard",
    "add_outcomes",
    "has_staff",
    "broadcast_execution",
    "composite_score",
    "coldest_sentence",
    "credited_sales",
    "crosswalk_sentence",
    "grain_counts",
    "headline",
    "indirect_standardise",
    "loss_days",
    "period_counts",
    "planted_staff_ids",
    "plot_mix",
    "plot_oe",
    "plot_raw_vs_adjusted",
    "poisson_interval",
    "ranking_sentence",
    "relationships",
    "reply_stats",
    "staff_crosswalk",
    "truth_checks",
    "unnamed_sentence",
    "wilson_interval",
]

_ts = timestamp_literal
_DAY = pd.Timedelta(days=1)
#: The page table's columns (:meth:`StaffScorecard.scorecard`); the O/E columns become value-with-interval cells.
PAGE_COLUMNS = (
    "rank",
    "adds",
    "net",
    "deletion_rate_30d",
    "deletion_oe",
    "conversion_rate",
    "conversion_oe",
    "net_gmv",
    "value_90d",
    "reply_rate",
    "execution_rate",
    "loss_days",
)

#: Sentences that state a result, per report language (filled with the figures by the notebook).
CATALOG = {
    "no_staff": {
        "zh": "导出里没有负责员工（好友表的负责员工一栏为空或缺失）：员工绩效未测量。"
        "企业微信导出的“添加人 / 跟进人”列就是负责员工，导出时带上它即可。",
        "en": "The export names no staff member (contacts' staff_id is empty or missing): the staff scorecard is not "
        "measured. WeCom's 'added by / follow-up person' column maps to staff_id.",
    },
    "unnamed": {
        "zh": "{n} 位员工（共 {total} 位）在本页以假名显示（如 {example}）：假名由密钥算出，不能反推。"
        "要显示工号或称呼，在名称对照表（参数 names_file）里每位员工写一行：kind 为 staff，"
        "code 为好友导出里负责员工一栏（员工ID / 跟进人）的值，zh / en 为要显示的称呼（不要用手机号或微信号）。"
        "员工 ID 载入时同样换成假名，报告里只留称呼；Excel 工作簿的各表也按称呼显示。",
        "en": "{n} of {total} staff members appear by pseudonym on this page (e.g. {example}): a pseudonym comes from "
        "the key and cannot be reversed. To show a job number or an alias, add one row per member to the names file "
        "(parameter names_file): kind staff, code the value of the friends export's staff column (staff id / "
        "follow-up person), zh / en the name to show (not a phone number or WeChat id). The id is pseudonymised at "
        "load like the tables, so only the name reaches the report; the Excel workbook's sheets show it too.",
    },
    "stray_names": {
        "zh": "名称对照表里有 {k} 个员工 ID 不是好友表的负责员工，没有用上：请写好友导出里负责员工一栏的值"
        "（群消息、群发任务里的员工 ID 可能是另一套）。",
        "en": "{k} staff ids in the names file are not a staff member of the friends table and were not used: write "
        "the value of the friends export's staff column (the ids in group messages and broadcasts may be another "
        "set).",
    },
    "no_staff_headline": {  # after the page title on the index and in 08: it does not repeat it
        "zh": "未测量（导出里没有负责员工）",
        "en": "not measured (the export names no staff member)",
    },
    "grain": {
        "zh": "关系粒度：{relationships:,} 条好友关系（{people:,} 人；{extra:,} 人被不止一位员工添加），"
        "{staff} 位员工。",
        "en": "Relationship grain: {relationships:,} customer–staff relationships ({people:,} people; {extra:,} added "
        "by more than one staff member), {staff} staff members.",
    },
    "crosswalk": {
        "zh": "{table}里的员工 ID 与好友表不是同一套（{n} 个 ID）：按共同客户对应，{share} 的客户落在对应的员工名下。",
        "en": "The staff ids of {table} differ from the contacts' ({n} ids): linked by shared customers, {share} of "
        "the customers fall under the linked staff member.",
    },
    "crosswalk_same": {
        "zh": "{table}与好友表使用同一套员工 ID。",
        "en": "{table} and contacts use the same staff ids.",
    },
    "strata": {
        "zh": "期望值按{strata}标准化（间接标准化）。",
        "en": "Expected values are standardised by {strata} (indirect standardisation).",
    },
    "ranking": {
        "zh": "综合排名（按构成调整后，{n} 位员工）：第一 {first}（得分 {first_score}），"
        "最后 {last}（得分 {last_score}）。",
        "en": "Composite ranking (mix-adjusted, {n} staff members): first {first} (score {first_score}), last {last} "
        "(score {last_score}).",
    },
    "coldest": {
        "zh": "客户构成最冷的是 {who}：新增中 {share} 来自删除最快的渠道“{channel}”，"
        "按这个构成平均应有 {expected} 的 30 天删除率"
        "（全体 {overall}）。原始删除率 {raw}，调整后删除 O/E = {oe}（{low}–{high}）；综合排名第 {rank}/{n}"
        "（未调整第 {raw_rank}）。",
        "en": "The coldest mix is {who}'s: {share} of their adds come from {channel}, the channel that deletes "
        "fastest, so at average performance their 30-day deletion rate would be {expected} ({overall} overall). Raw "
        "they lose {raw}; adjusted, deletion O/E = {oe} ({low}–{high}); composite rank {rank} of {n} (raw rank "
        "{raw_rank}).",
    },
    "loss_days": {
        "zh": "异常流失日（当天删除超过本人平常份额的上界，p < {p} / {tests:,} 个员工日）：{n} 个。",
        "en": "Loss days (a day's deletions above the bound of the staff member's usual share of that day, "
        "p < {p} / {tests:,} staff-days): {n}.",
    },
    "loss_days_none": {
        "zh": "没有异常流失日。",
        "en": "No loss days.",
    },
    "credited": {
        "zh": "窗口内净成交额 {total} 中的 {share} 可以归到购买时仍是好友的员工名下；"
        "其余的购买发生在没有有效好友关系时。",
        "en": "{share} of the window's net GMV ({total}) is credited to a staff member who was a friend at the time "
        "of purchase; the rest was bought with no active relationship.",
    },
    "headline": {
        "zh": "{n} 位员工，按客户构成调整后第一 {first}（删除 O/E {first_oe}），最后 {last}（删除 O/E "
        "{last_oe}）；异常流失日 {loss} 个。",
        "en": "{n} staff members; mix-adjusted, first {first} (deletion O/E {first_oe}), last "
        "{last} (deletion O/E {last_oe}); {loss} loss days.",
    },
    "not_measured": {
        "zh": "未测量：{what}（{why}）。",
        "en": "Not measured: {what} ({why}).",
    },
}


# ------------------------------------------------------------------------------------- indirect standardisation
def indirect_standardise(
    counts: pd.DataFrame,
    events: str,
    exposed: str,
    strata: Sequence[str] = ("channel",),
    by: str = "staff_id",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Observed vs expected events per unit, the expected from the strata's overall rates (indirect standardisation).

    Parameters
    ----------
    counts : DataFrame
        One row per unit × stratum with the event count ``events`` and the number at risk ``exposed``.
    events, exposed : str
        Columns of ``counts``.
    strata : sequence of str
        The mix variables (e.g. ``channel``): the reference rate of a stratum is its events / exposed over all
        units.
    by : str
        The unit column (staff member).
    alpha : float
        1 − confidence level of the intervals.

    Returns
    -------
    DataFrame
        Indexed by ``by``: ``exposed``, ``observed``, ``expected``, ``rate`` (raw: observed / exposed) with
        ``rate_low`` / ``rate_high`` (Wilson), ``oe`` (observed / expected) with ``oe_low`` / ``oe_high``
        (exact Poisson) and ``adjusted_rate`` (O/E × the overall rate: the unit's rate at the average mix).

    Examples
    --------
    >>> c = pd.DataFrame({"staff_id": ["a", "a", "b", "b"], "channel": ["hot", "cold", "hot", "cold"],
    ...                   "n": [90, 10, 10, 90], "deleted": [9, 5, 1, 45]})
    >>> out = indirect_standardise(c, "deleted", "n")
    >>> out[["observed", "expected", "rate", "oe"]].round(3).to_dict("index")
    {'a': {'observed': 14.0, 'expected': 14.0, 'rate': 0.14, 'oe': 1.0}, 'b': {'observed': 46.0, 'expected': 46.0, \
'rate': 0.46, 'oe': 1.0}}
    """
    strata = list(strata)
    c = counts[[by, *strata, events, exposed]].copy()
    ref = c.groupby(strata, dropna=False)[[events, exposed]].sum()
    rate = (ref[events] / ref[exposed].where(ref[exposed] > 0)).rename("_ref")
    c = c.join(rate, on=strata)
    c["_exp"] = c[exposed] * c["_ref"].fillna(0.0)
    g = c.groupby(by)[[exposed, events, "_exp"]].sum()
    g.columns = ["exposed", "observed", "expected"]
    g = g.astype(float)
    overall = g["observed"].sum() / g["exposed"].sum() if g["exposed"].sum() > 0 else np.nan
    g["rate"] = g["observed"] / g["exposed"].where(g["exposed"] > 0)
    g["rate_low"], g["rate_high"] = wilson_interval(g["observed"], g["exposed"], alpha)
    g["oe"] = g["observed"] / g["expected"].where(g["expected"] > 0)
    g["oe_low"], g["oe_high"] = poisson_interval(g["observed"], g["expected"], alpha)
    g["adjusted_rate"] = g["oe"] * overall
    g.index.name = by
    return g


def composite_score(indicators: pd.DataFrame, higher_is_better: dict[str, bool], min_units: int = 3) -> pd.Series:
    """Mean z-score of the indicators across units (sign so that higher is better); NaN indicators are skipped.

    Each indicator is first put on a scale where equal steps mean equal relative change — the caller passes
    log O/E and log-odds of rates — then standardised across units (z = (x − mean) / sd). The composite of a
    unit is the mean of its available z-scores; an indicator measured for fewer than ``min_units`` units is left
    out.

    Examples
    --------
    >>> x = pd.DataFrame({"del": [-0.5, 0.0, 0.4], "reply": [1.0, 0.5, -0.2]}, index=["a", "b", "c"])
    >>> composite_score(x, {"del": False, "reply": True}).round(3).to_dict()
    {'a': 1.209, 'b': 0.022, 'c': -1.232}
    """
    zs = []
    for col, up in higher_is_better.items():
        if col not in indicators or indicators[col].notna().sum() < min_units:
            continue
        x = indicators[col].astype(float)
        sd = x.std(ddof=0)
        if not np.isfinite(sd) or sd == 0:
            continue
        z = (x - x.mean()) / sd
        zs.append(z if up else -z)
    if not zs:
        return pd.Series(np.nan, index=indicators.index)
    return pd.concat(zs, axis=1).mean(axis=1, skipna=True)


# ------------------------------------------------------------------------------------------------ engine level
def has_staff(eng) -> bool:
    """Return whether any relationship names its staff member (without one there is nothing to score)."""
    rel = relationships(eng)
    if "staff_id" not in rel.columns:
        return False
    n = rel.aggregate(n=rel.staff_id.notnull().cast("int64").sum()).to_pyarrow().column(0)[0].as_py()
    return bool(n)


def relationships(eng) -> ibis.Table:
    """Return the relationship table: ``relationships`` when some customer has two staff members, else ``contacts``."""
    return eng.table("relationships") if eng.has("relationships") else eng.table("contacts")


def relationship_order(rel: ibis.Table) -> ibis.Table:
    """Add ``relationship``: ``first`` for a customer's earliest relationship (ties included), else ``later``.

    A later relationship (the customer also added by a second staff member) starts from a friend who already
    stayed, and ends no later than the customer's last: its deletion rate is not a first add's. Standardising by
    channel alone then charges a staff member who mostly makes first adds with the later ones' rates — on the 1 M
    bench data the cold-mix member's deletion O/E was 0.976 (0.963–0.989) with channel alone and 1.000 with
    channel × relationship, the planted 1.

    Examples
    --------
    >>> from helpers.features import as_table
    >>> rel = pd.DataFrame({"user_id": ["u", "u", "v"], "staff_id": ["a", "b", "b"],
    ...                     "added_at": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"])})
    >>> relationship_order(as_table(rel)).order_by("added_at").execute()["relationship"].tolist()
    ['first', 'later', 'first']
    """
    first = rel.added_at.min().over(ibis.window(group_by=rel.user_id))
    return rel.mutate(relationship=ibis.ifelse(rel.added_at == first, "first", "later"))


def _removals_measured(rel: ibis.Table) -> bool:
    if "removed_at" not in rel.columns:
        return False
    n = rel.aggregate(n=rel.removed_at.notnull().cast("int64").sum()).to_pyarrow().column(0)[0].as_py()
    return bool(n)


def _window(start, end) -> tuple:
    return _ts(pd.Timestamp(start).normalize()), _ts(pd.Timestamp(end).normalize() + _DAY)


def add_outcomes(
    rel: ibis.Table | pd.DataFrame,
    orders: ibis.Table | pd.DataFrame,
    start: str | datetime | pd.Timestamp,
    end: str | datetime | pd.Timestamp,
    as_of: str | datetime | pd.Timestamp,
    conversion_days: int = 30,
    strata: Sequence[str] = ("channel",),
    value_days: int = 90,
) -> ibis.Table:
    """Per staff member and stratum: the adds of the window and what happened to them (engine-level counts).

    Returns
    -------
    ibis.Table
        ``staff_id``, the strata, ``adds``, ``obs7`` / ``del7`` and ``obs30`` / ``del30`` (adds whose 7 / 30 days
        are observed, and of them removed within 7 / 30 days), ``new_obs`` / ``converted`` (new-customer adds whose
        ``conversion_days`` are observed, and of them with a first purchase within them), ``value_obs`` /
        ``value`` (adds whose ``value_days`` are observed, and the net GMV credited to them within those days).
    """
    r = as_table(rel)
    lo, hi = _window(start, end)
    asof = _ts(as_of)
    a = r.filter((r.added_at >= lo) & (r.added_at < hi))
    has_removed = "removed_at" in a.columns
    removed = a.removed_at if has_removed else ibis.null("timestamp")
    key = [*dict.fromkeys(["user_id", "staff_id", "added_at", *strata])]
    a = a.select(*key, removed_at=removed)
    occ = purchase_days(orders, pd.Timestamp(as_of) - pd.Timedelta(microseconds=1))
    occ = occ.select("user_id", paid_at=occ.first_paid_at, amount=occ.amount)
    j = a.left_join(occ, "user_id").drop("user_id_right")
    active = (j.paid_at >= j.added_at) & (j.removed_at.isnull() | (j.paid_at < j.removed_at))
    g = j.group_by(key).aggregate(
        removed_at=j.removed_at.max(),
        before=(j.paid_at < j.added_at).fill_null(False).cast("int64").sum(),
        first_after=ibis.ifelse(j.paid_at >= j.added_at, j.paid_at, ibis.null("timestamp")).min(),
        value=ibis.ifelse(
            active.fill_null(False) & (j.paid_at < j.added_at + ibis.interval(days=value_days)), j.amount, 0.0
        )
        .fill_null(0.0)
        .sum(),
    )

    def within(days: int):
        return g.removed_at.notnull() & (g.removed_at < g.added_at + ibis.interval(days=days))

    def observed(days: int):
        return g.added_at + ibis.interval(days=days) <= asof

    conv_end = g.added_at + ibis.interval(days=conversion_days)
    new = g.before == 0
    i64 = "int64"
    per = g.mutate(
        obs7=observed(7).cast(i64),
        del7=(observed(7) & within(7)).cast(i64),
        obs30=observed(30).cast(i64),
        del30=(observed(30) & within(30)).cast(i64),
        new_obs=(new & observed(conversion_days)).cast(i64),
        converted=(new & observed(conversion_days) & g.first_after.notnull() & (g.first_after < conv_end))
        .fill_null(False)
        .cast(i64),
        value_obs=observed(value_days).cast(i64),
        value_amt=ibis.ifelse(observed(value_days), g.value, 0.0),
    )
    by = ["staff_id", *strata]
    return per.group_by(by).aggregate(
        adds=per.count(),
        obs7=per.obs7.sum(),
        del7=per.del7.sum(),
        obs30=per.obs30.sum(),
        del30=per.del30.sum(),
        new_obs=per.new_obs.sum(),
        converted=per.converted.sum(),
        value_obs=per.value_obs.sum(),
        value=per.value_amt.sum().round(2),
    )


def period_counts(rel: ibis.Table | pd.DataFrame, start, end, freq: str = "M", removals: bool = True) -> ibis.Table:
    """Count adds and deletions (relationship grain) per staff member and period (``M`` months, ``W`` weeks).

    Returns
    -------
    ibis.Table
        ``staff_id``, ``period`` (first day), ``adds``, ``deletions`` (null when removals are not measured).
    """
    r = as_table(rel)
    lo, hi = _window(start, end)
    unit = {"M": "M", "W": "W"}[freq]
    a = r.filter((r.added_at >= lo) & (r.added_at < hi))
    a = a.group_by(["staff_id", a.added_at.truncate(unit).name("period")]).aggregate(adds=a.count())
    if not removals or "removed_at" not in r.columns:
        return a.mutate(deletions=ibis.null("int64"))
    d = r.filter((r.removed_at >= lo) & (r.removed_at < hi))
    d = d.group_by(["staff_id", d.removed_at.truncate(unit).name("period")]).aggregate(deletions=d.count())
    j = a.outer_join(d, ["staff_id", "period"])
    return j.select(
        staff_id=ibis.coalesce(j.staff_id, j.staff_id_right),
        period=ibis.coalesce(j.period, j.period_right),
        adds=j.adds.fill_null(0),
        deletions=j.deletions.fill_null(0),
    )


def staff_crosswalk(rel: ibis.Table | pd.DataFrame, events: ibis.Table | pd.DataFrame, min_share: float = 0.5):
    """Link the staff ids of an event table (chats, broadcasts) to the relationship table's staff ids.

    An event id that is also a relationship id is itself. Otherwise it is linked to the relationship staff id that
    shares most of its customers, when that id holds at least ``min_share`` of them (else it stays unlinked and
    its events are credited to nobody).

    Returns
    -------
    DataFrame
        ``event_staff``, ``staff_id`` (NaN when unlinked), ``customers`` (the event id's customers),
        ``share`` (of them under the linked staff id; 1 for the same id) and ``same_id`` (bool).
    """
    r = as_table(rel)
    e = as_table(events)
    e = e.filter(e.user_id.notnull() & e.staff_id.notnull())
    ev = e.select("user_id", event_staff=e.staff_id).distinct()
    rr = r.select("user_id", "staff_id").distinct()
    j = ev.join(rr, "user_id")
    pairs = j.group_by(["event_staff", "staff_id"]).aggregate(customers=j.count()).to_pyarrow().to_pandas()
    tot = ev.group_by("event_staff").aggregate(customers=ev.count()).to_pyarrow().to_pandas()
    rel_ids = set(rr.select("staff_id").distinct().to_pyarrow().column(0).to_pylist())
    rows = []
    for sid, n in zip(tot["event_staff"], tot["customers"], strict=True):
        if sid in rel_ids:
            rows.append((sid, sid, int(n), 1.0, True))
            continue
        p = pairs[pairs["event_staff"] == sid].sort_values(["customers", "staff_id"], ascending=[False, True])
        best = p.iloc[0] if len(p) else None
        share = float(best["customers"]) / n if best is not None and n else 0.0
        rows.append((sid, best["staff_id"] if share >= min_share else np.nan, int(n), share, False))
    return pd.DataFrame(rows, columns=["event_staff", "staff_id", "customers", "share", "same_id"])


def _link(events: ibis.Table, crosswalk: pd.DataFrame) -> ibis.Table:
    cw = crosswalk.dropna(subset=["staff_id"])[["event_staff", "staff_id"]].rename(columns={"staff_id": "_sid"})
    cw = ibis.memtable(cw.astype(str))
    j = events.join(cw, events.staff_id == cw.event_staff)
    return j.mutate(staff_id=j._sid).drop("_sid", "event_staff")


def reply_stats(messages: ibis.Table | pd.DataFrame, crosswalk: pd.DataFrame, reply_hours: float = 24.0):
    """Per staff member: questions in 1:1 chats, those answered within ``reply_hours``, median first-reply minutes.

    Returns
    -------
    ibis.Table
        ``staff_id``, ``questions``, ``answered``, ``median_reply_minutes`` (of answered questions).
    """
    m = as_table(messages)
    keep = m.group_id.isnull() & m.user_id.notnull() & m.staff_id.notnull()
    if "action" in m.columns:
        keep &= m.action.isnull() | (m.action == "send")
    m = m.filter(keep)
    role = m.sender_role.fill_null("customer") if "sender_role" in m.columns else ibis.literal("customer")
    m = m.select("user_id", "staff_id", "sent_at", is_staff=(role == "staff").cast("int64"))
    m = _link(m, crosswalk)
    chat = ["user_id", "staff_id"]
    w_prev = ibis.window(group_by=chat, order_by=["sent_at", "is_staff"])
    w_next = ibis.window(group_by=chat, order_by=["sent_at", "is_staff"], preceding=0, following=None)
    staff_at = ibis.ifelse(m.is_staff == 1, m.sent_at, ibis.null("timestamp"))
    m = m.mutate(prev_staff=m.is_staff.lag().over(w_prev), next_staff_at=staff_at.min().over(w_next))
    q = m.filter((m.is_staff == 0) & (m.prev_staff.isnull() | (m.prev_staff == 1)))
    wait = (q.next_staff_at.epoch_seconds() - q.sent_at.epoch_seconds()) / 60.0
    q = q.mutate(answered=(q.next_staff_at.notnull() & (wait <= reply_hours * 60.0)).fill_null(False), wait=wait)
    return q.group_by("staff_id").aggregate(
        questions=q.count(),
        answered=q.answered.cast("int64").sum(),
        median_reply_minutes=ibis.ifelse(q.answered, q.wait, ibis.null("float64")).median(),
    )


def broadcast_execution(broadcasts: ibis.Table | pd.DataFrame, crosswalk: pd.DataFrame) -> ibis.Table:
    """Per staff member: broadcast sends to customers that were theirs to make, and those sent.

    Returns
    -------
    ibis.Table
        ``staff_id``, ``to_send`` (sent or not sent), ``sent``, ``failed`` (customer gone or day's limit reached).
    """
    b = as_table(broadcasts)
    b = b.filter(b.user_id.notnull() & b.staff_id.notnull()).select("user_id", "staff_id", "send_status")
    b = _link(b, crosswalk)
    mine = b.send_status.isin(["sent", "not_sent"])
    return b.group_by("staff_id").aggregate(
        to_send=mine.cast("int64").sum(),
        sent=(b.send_status == "sent").cast("int64").sum(),
        failed=(~mine).cast("int64").sum(),
    )


def credited_sales(rel: ibis.Table | pd.DataFrame, orders: ibis.Table | pd.DataFrame, start, end) -> ibis.Table:
    """Per staff member: purchase occasions of the window credited by relationship (split among active ones).

    Returns
    -------
    ibis.Table
        ``staff_id`` (null: no active relationship), ``buyers``, ``repeat_buyers`` (two or more credited
        occasions), ``occasions`` (credited, fractional when shared) and ``net_gmv``.
    """
    r = as_table(rel)
    occ = purchase_days(orders, end, start).select("user_id", "d", t=_.first_paid_at, amount=_.amount)
    rr = r.select(
        "user_id", "staff_id", "added_at", removed=r.removed_at if "removed_at" in r.columns else ibis.null("timestamp")
    )
    j = occ.left_join(rr, "user_id").drop("user_id_right")
    ok = (j.added_at <= j.t) & (j.removed.isnull() | (j.removed > j.t))
    j = j.mutate(staff_id=ibis.ifelse(ok.fill_null(False), j.staff_id, ibis.null("string")))
    j = j.distinct()
    w = ibis.window(group_by=["user_id", "d"])
    j = j.mutate(n_active=j.staff_id.count().over(w))
    j = j.filter(j.staff_id.notnull() | (j.n_active == 0))
    share = ibis.ifelse(j.n_active > 0, 1.0 / j.n_active.cast("float64"), 1.0)
    per = j.group_by(["staff_id", "user_id"]).aggregate(
        occ=j.count(), occasions=share.sum(), net_gmv=(j.amount * share).sum()
    )
    return per.group_by("staff_id").aggregate(
        buyers=per.count(),
        repeat_buyers=(per.occ >= 2).cast("int64").sum(),
        occasions=per.occasions.sum(),
        net_gmv=per.net_gmv.sum().round(2),
    )


def loss_days(rel: ibis.Table | pd.DataFrame, start, end, p: float = 0.001, eng=None) -> tuple[pd.DataFrame, int]:
    """Days on which one staff member loses unusually many customers, compared with their own usual share.

    A staff member's usual share π of the deletions is their share over the whole window. On a day with N
    deletions in all, they expect N·π; the day is flagged when ``P(X ≥ x | Binomial(N, π)) < p / (staff-days
    tested)`` (Bonferroni; the Poisson bound of their usual rate, scaled to the day's level). Conditioning on the
    day's total keeps a company-wide wave (a big promotion, a mass message that annoys everyone) from being blamed
    on the staff members with most customers; what is flagged is one staff member losing far more than usual
    *that day*. Deletions per staff and day are counted in the engine.

    Returns
    -------
    (DataFrame, int)
        Flagged days — ``staff_id``, ``date``, ``deletions``, ``expected`` (N·π), ``bound`` (the largest count not
        flagged), ``p_value`` — and the number of staff-days tested.

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", periods=60, freq="D")
    >>> rel = pd.DataFrame({"staff_id": np.repeat(["a", "b"], 120), "added_at": pd.Timestamp("2024-12-01"),
    ...                     "removed_at": np.tile(np.repeat(days, 2), 2) + pd.Timedelta(hours=12)})
    >>> burst = pd.DataFrame({"staff_id": "a", "added_at": pd.Timestamp("2024-12-01"),
    ...                       "removed_at": [pd.Timestamp("2025-02-01 10:00")] * 30})
    >>> flagged, tests = loss_days(pd.concat([rel, burst]), "2025-01-01", "2025-03-01")
    >>> flagged[["staff_id", "deletions"]].to_dict("records"), tests
    ([{'staff_id': 'a', 'deletions': 32}], 120)
    """
    r = as_table(rel)
    lo, hi = _window(start, end)
    d = r.filter((r.removed_at >= lo) & (r.removed_at < hi))
    d = d.group_by(["staff_id", d.removed_at.date().name("date")]).aggregate(deletions=d.count())
    daily = eng.to_pandas(d) if eng is not None else d.to_pyarrow().to_pandas()
    cols = ["staff_id", "date", "deletions", "expected", "bound", "p_value"]
    if daily.empty:
        return pd.DataFrame(columns=cols), 0
    share = daily.groupby("staff_id")["deletions"].sum() / daily["deletions"].sum()
    total = daily.groupby("date")["deletions"].sum()
    tests = int(len(share) * len(total))
    level = p / max(tests, 1)
    n = daily["date"].map(total).to_numpy()
    pi = daily["staff_id"].map(share).to_numpy()
    daily["expected"] = n * pi
    daily["bound"] = stats.binom.isf(level, n, pi)
    daily["p_value"] = stats.binom.sf(daily["deletions"] - 1, n, pi)
    flagged = daily[daily["p_value"] < level].copy()
    flagged["date"] = pd.to_datetime(flagged["date"])
    return flagged.sort_values(["date", "staff_id"])[cols].reset_index(drop=True), tests


def planted_staff_ids(truth: dict | None, known: Iterable[str] | None = None) -> dict[str, str] | None:
    """Return the planted best / worst / cold staff ids as the loader shows them (simulated data only).

    The messy sample names staff by name in contacts; its truth records their pseudonyms (demo key). A plain
    simulated folder keeps ``staff_01`` …, pseudonymised with the key the loader used: the demo key for the
    sample, else the user's key (a benchmark's simulated data run under a key of their own). With ``known`` (the
    staff ids the scorecard saw) the key whose pseudonyms are all among them is used; ``None`` when no key fits.
    """
    if not truth or "staff" not in truth:
        return None
    from helpers.privacy import DEMO_KEY, PiiKeyError, pii_key, pseudonym

    st, roles = truth["staff"], ("best", "worst", "cold")
    recorded = {r: st.get(f"{r}_pseudonym") for r in roles}
    if all(recorded.values()):
        return recorded  # type: ignore[return-value]
    keys = [DEMO_KEY]
    try:
        keys.append(pii_key(create=False))
    except PiiKeyError:
        pass
    seen = None if known is None else set(known)
    for key in keys:
        ids = {r: pseudonym(st[r], key) for r in roles}
        if seen is None or set(ids.values()) <= seen:
            return ids
    return None


# ------------------------------------------------------------------------------------------------ the scorecard
def _logit(p: pd.Series) -> pd.Series:
    q = p.clip(1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


class StaffScorecard(FittedModel):
    """The staff scorecard of one window: counts, rates with intervals, O/E against the contact mix, a ranking.

    Parameters
    ----------
    conversion_days : int
        A first order counts as a conversion within this many days of the add.
    alpha : float
        1 − confidence level of every interval.
    strata : sequence of str
        Mix variables of the indirect standardisation (columns of the relationship table): by default the channel
        and whether the relationship is the customer's first (:func:`relationship_order`, derived when asked for).
    reply_hours : float
        A question counts as answered when the staff member writes within this many hours.
    loss_p : float
        Family-wise level of the loss-day flag (Bonferroni over staff-days).
    min_adds : int
        Staff members with fewer adds in the window are shown but not ranked.

    Attributes
    ----------
    table_ : DataFrame
        One row per staff member (index ``staff_id``): see :meth:`fit`.
    mix_ : DataFrame
        Share of each staff member's adds per value of the first stratum (rows staff, columns e.g. channels).
    counts_ : DataFrame
        Adds and outcomes per staff member × stratum (the input of the standardisation).
    periods_ : DataFrame
        Adds, deletions and net per staff member and month.
    loss_days_ : DataFrame
        Flagged loss days; ``loss_tests_`` the staff-days tested.
    crosswalks_ : dict
        Table name → :func:`staff_crosswalk` result (chats, broadcasts).
    measured_ : dict
        Which parts were measured (``removals``, ``messages``, ``broadcasts``) and ``not_measured_`` why not.
    """

    INDICATORS = {"log_deletion_oe": False, "log_conversion_oe": True, "logit_reply": True, "logit_execution": True}

    def __init__(
        self,
        conversion_days: int = 30,
        alpha: float = 0.05,
        strata: Sequence[str] = ("channel", "relationship"),
        reply_hours: float = 24.0,
        loss_p: float = 0.001,
        min_adds: int = 30,
    ) -> None:
        self.conversion_days = conversion_days
        self.alpha = alpha
        self.strata = tuple(strata)
        self.reply_hours = reply_hours
        self.loss_p = loss_p
        self.min_adds = min_adds

    def fit(self, eng, start, end, as_of) -> StaffScorecard:
        """Compute the scorecard from the clean tables over the window ``start..end``, observed before ``as_of``.

        Returns
        -------
        StaffScorecard
            ``self``; ``table_`` holds per staff member: ``adds``, ``deletions``, ``net``, ``deletion_rate_7d`` /
            ``deletion_rate_30d`` with Wilson ``*_low`` / ``*_high``, ``deletion_oe`` (30 days) with its Poisson
            interval, ``conversion_rate`` and ``conversion_oe`` likewise, ``buyers``, ``net_gmv``,
            ``repurchase_rate``, ``value_90d`` and ``value_oe``, ``reply_rate``, ``median_reply_minutes``,
            ``execution_rate`` (with intervals), ``loss_days``, ``score`` and ``rank``.
        """
        rel = relationships(eng)
        if "staff_id" not in rel.columns:
            raise ValueError("the contacts table has no staff_id column: there is no staff to score")
        orders = eng.table("orders")
        if "relationship" in self.strata and "relationship" not in rel.columns:
            rel = relationship_order(rel)
        strata = [s for s in self.strata if s in rel.columns]
        removals = _removals_measured(rel)
        self.measured_ = {"removals": removals, "messages": False, "broadcasts": False}
        self.not_measured_: dict[str, str] = {}
        self.strata_ = strata
        counts = eng.to_pandas(add_outcomes(rel, orders, start, end, as_of, self.conversion_days, strata))
        counts = counts.sort_values(["staff_id", *strata]).reset_index(drop=True)
        self.counts_ = counts
        t = counts.groupby("staff_id")[["adds"]].sum().astype(float)
        mix = counts.pivot_table(index="staff_id", columns=strata[:1], values="adds", aggfunc="sum", fill_value=0)
        self.mix_ = mix.div(mix.sum(axis=1), axis=0)
        self._add_net(t, eng, rel, start, end, removals)
        self._add_standardised_rates(t, counts, strata)
        self._add_sales(t, eng, rel, orders, start, end, counts, strata)
        self._add_service(t, eng, rel)
        self._add_loss_days(t, eng, rel, start, end, removals)
        self._add_scores(t, removals)
        self.table_ = self._marked_not_measured(t, removals).sort_values(
            ["rank", "adds"], ascending=[True, False], na_position="last"
        )
        first = self.table_.index[0]
        self.params_ = {
            "staff": float(len(t)),
            "adds": float(t["adds"].sum()),
            "first_score": float(t.at[first, "score"]),
        }
        return self

    def _add_net(self, t: pd.DataFrame, eng, rel, start, end, removals: bool) -> None:
        """Add deletions and net adds per staff member (per month in ``periods_``); NaN without recorded removals."""
        per = eng.to_pandas(period_counts(rel, start, end, "M", removals)).sort_values(["staff_id", "period"])
        per["net"] = per["adds"] - per["deletions"] if removals else np.nan
        self.periods_ = per.reset_index(drop=True)
        dels = per.groupby("staff_id")["deletions"].sum(min_count=1)
        t["deletions"] = dels.reindex(t.index).fillna(0.0) if removals else np.nan
        t["net"] = t["adds"] - t["deletions"]

    def _add_standardised_rates(self, t: pd.DataFrame, counts: pd.DataFrame, strata: list[str]) -> None:
        """Add deletion (7 / 30 days) and first-order conversion: rates, and observed ÷ expected for the mix."""
        a = self.alpha
        for days in (7, 30):
            s = indirect_standardise(counts, f"del{days}", f"obs{days}", strata, alpha=a)
            t[f"deletion_rate_{days}d"] = s["rate"]
            t[f"deletion_rate_{days}d_low"], t[f"deletion_rate_{days}d_high"] = s["rate_low"], s["rate_high"]
        s = indirect_standardise(counts, "del30", "obs30", strata, alpha=a)
        t["deletion_oe"], t["deletion_oe_low"], t["deletion_oe_high"] = s["oe"], s["oe_low"], s["oe_high"]
        t["deletion_rate_adjusted"] = s["adjusted_rate"]
        t["deletion_expected"], t["deletion_observed"], t["adds_observed_30d"] = (
            s["expected"],
            s["observed"],
            s["exposed"],
        )
        s = indirect_standardise(counts, "converted", "new_obs", strata, alpha=a)
        t["new_adds"] = s["exposed"]
        t["conversion_rate"], t["conversion_rate_low"], t["conversion_rate_high"] = (
            s["rate"],
            s["rate_low"],
            s["rate_high"],
        )
        t["conversion_oe"], t["conversion_oe_low"], t["conversion_oe_high"] = s["oe"], s["oe_low"], s["oe_high"]

    def _add_sales(self, t: pd.DataFrame, eng, rel, orders, start, end, counts, strata: list[str]) -> None:
        """Add credited buyers, net GMV and repurchase; 90-day value per add and its observed ÷ expected."""
        sales = eng.to_pandas(credited_sales(rel, orders, start, end))
        self.net_gmv_total_ = float(sales["net_gmv"].sum())
        self.credited_share_ = float(sales.loc[sales["staff_id"].notna(), "net_gmv"].sum() / self.net_gmv_total_)
        sales = sales.dropna(subset=["staff_id"]).set_index("staff_id")
        t["buyers"] = sales["buyers"].reindex(t.index).fillna(0)
        t["net_gmv"] = sales["net_gmv"].reindex(t.index).fillna(0.0)
        rep = sales["repeat_buyers"].reindex(t.index).fillna(0)
        t["repurchase_rate"] = rep / t["buyers"].where(t["buyers"] > 0)
        t["repurchase_rate_low"], t["repurchase_rate_high"] = wilson_interval(rep, t["buyers"], self.alpha)
        v = counts.groupby("staff_id")[["value", "value_obs"]].sum()
        t["value_90d"] = v["value"] / v["value_obs"].where(v["value_obs"] > 0)
        ref = counts.groupby(strata)[["value", "value_obs"]].sum()
        per_add = (ref["value"] / ref["value_obs"].where(ref["value_obs"] > 0)).rename("_v")
        exp = counts.join(per_add, on=strata)
        exp = (exp["value_obs"] * exp["_v"].fillna(0)).groupby(exp["staff_id"]).sum()
        t["value_oe"] = v["value"] / exp.where(exp > 0)

    def _add_service(self, t: pd.DataFrame, eng, rel) -> None:
        """Add reply rate and speed (messages) and broadcast execution, where the export has them."""
        a = self.alpha
        self.crosswalks_ = {}
        for name in ("messages", "broadcasts"):
            if not eng.has(name):
                self.not_measured_[name] = name
                continue
            self.crosswalks_[name] = staff_crosswalk(rel, eng.table(name))
        if "messages" in self.crosswalks_:
            r = eng.to_pandas(reply_stats(eng.table("messages"), self.crosswalks_["messages"], self.reply_hours))
            r = r.set_index("staff_id").reindex(t.index)
            if r["questions"].fillna(0).sum() > 0:
                self.measured_["messages"] = True
                t["questions"] = r["questions"].fillna(0)
                t["reply_rate"] = r["answered"] / r["questions"].where(r["questions"] > 0)
                t["reply_rate_low"], t["reply_rate_high"] = wilson_interval(r["answered"].fillna(0), t["questions"], a)
                t["median_reply_minutes"] = r["median_reply_minutes"].astype(float)
            else:
                self.not_measured_["messages"] = "chats"
        if "broadcasts" in self.crosswalks_:
            b = eng.to_pandas(broadcast_execution(eng.table("broadcasts"), self.crosswalks_["broadcasts"]))
            b = b.set_index("staff_id").reindex(t.index)
            if b["to_send"].fillna(0).sum() > 0:
                self.measured_["broadcasts"] = True
                t["to_send"] = b["to_send"].fillna(0)
                t["execution_rate"] = b["sent"] / b["to_send"].where(b["to_send"] > 0)
                t["execution_rate_low"], t["execution_rate_high"] = wilson_interval(
                    b["sent"].fillna(0), t["to_send"], a
                )
            else:
                self.not_measured_["broadcasts"] = "broadcast_sends"

    def _add_loss_days(self, t: pd.DataFrame, eng, rel, start, end, removals: bool) -> None:
        """Add the days on which a staff member lost unusually many friends (needs recorded removals)."""
        if removals:
            self.loss_days_, self.loss_tests_ = loss_days(rel, start, end, self.loss_p, eng)
            t["loss_days"] = self.loss_days_.groupby("staff_id").size().reindex(t.index).fillna(0)
        else:
            self.loss_days_, self.loss_tests_ = pd.DataFrame(), 0
            t["loss_days"] = np.nan
            self.not_measured_["removals"] = "removals"

    def _add_scores(self, t: pd.DataFrame, removals: bool) -> None:
        """Add the mix-adjusted composite score and rank, and the same composite on raw rates (a naive league table)."""
        ind = pd.DataFrame(index=t.index)
        ind["log_deletion_oe"] = np.log(t["deletion_oe"].where(t["deletion_oe"] > 0)) if removals else np.nan
        ind["log_conversion_oe"] = np.log(t["conversion_oe"].where(t["conversion_oe"] > 0))
        ind["logit_reply"] = _logit(t["reply_rate"]) if "reply_rate" in t else np.nan
        ind["logit_execution"] = _logit(t["execution_rate"]) if "execution_rate" in t else np.nan
        ranked = t["adds"] >= self.min_adds
        self.indicators_ = ind
        t["score"] = composite_score(ind[ranked], self.INDICATORS).reindex(t.index)
        t["rank"] = t["score"].rank(ascending=False, method="min")
        raw = ind.copy()
        raw["log_deletion_oe"] = _logit(t["deletion_rate_30d"]) if removals else np.nan
        raw["log_conversion_oe"] = _logit(t["conversion_rate"])
        t["raw_score"] = composite_score(raw[ranked], self.INDICATORS).reindex(t.index)
        t["raw_rank"] = t["raw_score"].rank(ascending=False, method="min")

    def _marked_not_measured(self, t: pd.DataFrame, removals: bool) -> pd.DataFrame:
        """Mark the columns whose input the export lacks as *not measured* (never 0)."""
        cols_reply = ["questions", "reply_rate", "reply_rate_low", "reply_rate_high", "median_reply_minutes"]
        cols_exec = ["to_send", "execution_rate", "execution_rate_low", "execution_rate_high"]
        del_cols = [c for c in t.columns if c.startswith(("deletion", "loss_days")) or c in ("deletions", "net")]
        if not removals:
            t = mark_not_measured(t, del_cols, input_missing("removals", "en"))
        if not self.measured_["messages"]:
            t = mark_not_measured(t, cols_reply, input_missing(self.not_measured_["messages"], "en"))
        if not self.measured_["broadcasts"]:
            t = mark_not_measured(t, cols_exec, input_missing(self.not_measured_["broadcasts"], "en"))
        return t

    def scorecard(self) -> pd.DataFrame:
        """Return the per-staff table for a page: one column per question, in rank order (index ``staff_id``).

        Twelve columns a lead reads across (they fit a page): rank, adds and net, the 30-day deletion rate,
        deletion and conversion O/E each with its interval in one cell (``0.64（0.56–0.74）``), conversion rate,
        net sales, 90-day value per add, reply rate, broadcast execution and loss days. Everything else (the
        7-day rate, every interval, buyers, repurchase, reply speed, the scores) is in :attr:`table_`, which 07
        exports to the staff workbook; reply speed is also in 07's service table. A column that is not measured
        stays marked so (``attrs["not_measured"]``).
        """
        self._check_fitted()
        t = self.table_
        out = t[[c for c in PAGE_COLUMNS if c in t.columns]].copy()
        nm = dict(t.attrs.get("not_measured", {}))
        for name in ("deletion_oe", "conversion_oe"):
            if name not in out.columns:
                continue
            lo, hi = t.get(f"{name}_low"), t.get(f"{name}_high")
            if lo is None or hi is None:
                continue
            cell = [
                np.nan if not np.isfinite(v) else f"{v:.2f}（{_fmt(a)}–{_fmt(b)}）"
                for v, a, b in zip(t[name].astype(float), lo.astype(float), hi.astype(float), strict=True)
            ]
            out.insert(out.columns.get_loc(name), f"{name}_interval", pd.Series(cell, index=t.index, dtype=object))
            out = out.drop(columns=name)
            if name in nm:
                nm[f"{name}_interval"] = nm[name]
        out.attrs = {**dict(t.attrs), "not_measured": nm}
        return out

    def coldest_mix(self) -> dict | None:
        """Return the staff member with the coldest mix (highest expected 30-day deletion rate) and their figures.

        Keys: ``staff_id``, ``channel`` (the stratum with the highest deletion rate overall), ``share`` (of their
        adds from it), ``expected_rate`` (their expected 30-day deletion rate at average performance),
        ``overall_rate``, ``raw_rate``, ``oe``, ``low``, ``high``, ``rank``, ``raw_rank``, ``n`` (staff ranked).
        ``None`` when deletions are not measured or every add has the same stratum.
        """
        self._check_fitted()
        t = self.table_
        if not self.measured_["removals"] or t["deletion_expected"].isna().all() or self.mix_.shape[1] < 2:
            return None  # no removals, or a single channel: there is no mix to speak of
        exp_rate = t["deletion_expected"] / t["adds_observed_30d"].where(t["adds_observed_30d"] > 0)
        sid = exp_rate.idxmax()
        c = self.counts_.groupby(self.strata_[0])[["del30", "obs30"]].sum() if self.strata_ else None
        chan = (c["del30"] / c["obs30"].where(c["obs30"] > 0)).idxmax() if c is not None else None
        share = float(self.mix_.at[sid, chan]) if chan is not None and chan in self.mix_.columns else float("nan")
        overall = t["deletion_observed"].sum() / t["adds_observed_30d"].sum()
        r = t.loc[sid]
        return {
            "staff_id": sid,
            "channel": chan,
            "share": share,
            "expected_rate": float(exp_rate[sid]),
            "overall_rate": float(overall),
            "raw_rate": float(r["deletion_rate_30d"]),
            "oe": float(r["deletion_oe"]),
            "low": float(r["deletion_oe_low"]),
            "high": float(r["deletion_oe_high"]),
            "rank": r["rank"],
            "raw_rank": r["raw_rank"],
            "n": int(t["rank"].notna().sum()),
        }

    def artifact(self, start, end) -> dict:
        """Return the machine-readable scorecard for the summary notebook (``artifacts/staff.json``).

        Keys: ``window`` (start, end), ``strata`` (mix variables of the O/E), ``measured`` (removals, messages,
        broadcasts), ``not_measured`` (why not), ``credited_share`` (of the window's net GMV), ``loss_days``
        (flagged days) and ``staff`` (one record per staff member: every column of :attr:`table_`, NaN as null).
        """
        self._check_fitted()
        t = self.table_.reset_index()
        t = t.astype(object).where(t.notna(), None)
        days = self.loss_days_.assign(date=lambda d: d["date"].dt.strftime("%Y-%m-%d")) if len(self.loss_days_) else []
        return {
            "window": [f"{pd.Timestamp(start):%Y-%m-%d}", f"{pd.Timestamp(end):%Y-%m-%d}"],
            "strata": list(self.strata_),
            "measured": dict(self.measured_),
            "not_measured": dict(self.not_measured_),
            "credited_share": round(self.credited_share_, 6),
            "loss_days": days.to_dict("records") if len(self.loss_days_) else [],
            "staff": t.to_dict("records"),
        }


def _who(L, sid) -> str:
    return L.name("staff", sid)


def _fmt(x: float, digits: int = 2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def coldest_sentence(cold: dict, L) -> str:
    """Say who has the coldest contact mix and what adjusting does to their figures."""
    from helpers.labels import fmt_pct

    rank = lambda r: "—" if pd.isna(r) else f"{int(r)}"  # noqa: E731
    return L.text(
        CATALOG,
        "coldest",
        who=_who(L, cold["staff_id"]),
        share=fmt_pct(cold["share"]),
        channel=L.name("channel", cold["channel"]),
        expected=fmt_pct(cold["expected_rate"]),
        overall=fmt_pct(cold["overall_rate"]),
        raw=fmt_pct(cold["raw_rate"]),
        oe=_fmt(cold["oe"]),
        low=_fmt(cold["low"]),
        high=_fmt(cold["high"]),
        rank=rank(cold["rank"]),
        n=cold["n"],
        raw_rank=rank(cold["raw_rank"]),
    )


def unnamed_sentence(staff_ids, L) -> str | None:
    """Say how many staff members have no display name in the team's names file, and how to give them one.

    Names given for ids that are no staff member of the friends table (often the WeCom userids of the messages
    when the friends export names staff another way) are counted too. ``None`` when every member has a name and
    every name was used.

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> L = Labels("en", {"staff": {"pii_00000000000000aa": {"zh": "导购01", "en": "A01"}}})
    >>> unnamed_sentence(["pii_00000000000000aa", "pii_00000000000000bb"], L)[:60]
    '1 of 2 staff members appear by pseudonym on this page (e.g. '
    >>> unnamed_sentence(["pii_00000000000000aa"], L) is None
    True
    >>> unnamed_sentence(["pii_00000000000000cc"], L).split(". ")[-1][:52]
    '1 staff ids in the names file are not a staff member'
    """
    ids = [s for s in dict.fromkeys(staff_ids) if s is not None and not pd.isna(s)]
    unnamed = [s for s in ids if _who(L, s) == s]
    stray = set(L.names.get("staff", {})) - set(ids)
    parts = []
    if unnamed:
        parts.append(L.text(CATALOG, "unnamed", n=len(unnamed), total=len(ids), example=unnamed[0]))
    if stray:
        parts.append(L.text(CATALOG, "stray_names", k=len(stray)))
    return (" " if L.lang == "en" else "").join(parts) or None


def ranking_sentence(sc: StaffScorecard, L) -> str:
    """Say who ranks first and last on the composite."""
    t = sc.table_.dropna(subset=["rank"])
    if t.empty:
        return L.text(CATALOG, "not_measured", what=L.header("rank"), why="—")
    return L.text(
        CATALOG,
        "ranking",
        n=len(t),
        first=_who(L, t.index[0]),
        first_score=_fmt(t["score"].iloc[0]),
        last=_who(L, t.index[-1]),
        last_score=_fmt(t["score"].iloc[-1]),
    )


def headline(sc: StaffScorecard, L) -> str:
    """Return the one-sentence headline of the notebook (for the report's index page)."""
    t = sc.table_.dropna(subset=["rank"])
    if t.empty:
        return ranking_sentence(sc, L)
    oe = t["deletion_oe"] if "deletion_oe" in t else pd.Series(np.nan, index=t.index)
    loss = len(sc.loss_days_) if sc.measured_["removals"] else NOT_MEASURED[L.lang]
    return L.text(
        CATALOG,
        "headline",
        n=len(t),
        first=_who(L, t.index[0]),
        first_oe=_fmt(oe.iloc[0]),
        last=_who(L, t.index[-1]),
        last_oe=_fmt(oe.iloc[-1]),
        loss=loss,
    )


def truth_checks(sc: StaffScorecard, ids: dict[str, str], truth: dict, tc):
    """Add the staff checks against the planted truth to ``tc`` (a :class:`helpers.truth.TruthChecks`) and return it.

    Best first and worst last on the composite, the cold-mix member not last; the deletion O/E of best lowest and
    worst highest (within 0.15 of the planted hazard multipliers, which a 30-day probability dilutes a little);
    the cold member's deletion O/E interval covers 1; reply rates and broadcast execution within 0.03 of the planted
    probabilities (others pooled); median first reply within 25 % of the planted exponential median (mean × ln 2);
    no loss day (none is planted).
    """
    p = truth["planted"]["staff"]
    t = sc.table_
    n = int(t["rank"].notna().sum())
    tc.equal("best_rank", int(t.at[ids["best"], "rank"]), 1)
    tc.equal("worst_rank", int(t.at[ids["worst"], "rank"]), n)
    tc.equal("cold_not_last", bool(t.at[ids["cold"], "rank"] < n), True)
    if sc.measured_["removals"]:
        oe = t["deletion_oe"]
        tc.equal("best_lowest_oe", oe.idxmin() == ids["best"], True)
        tc.equal("worst_highest_oe", oe.idxmax() == ids["worst"], True)
        for role in ("best", "worst"):
            mult = p["deletion_multiplier"][truth["staff"][role]]
            tc.within("deletion_oe", oe[ids[role]], mult, 0.15, role=role, multiplier=mult)
        lo, hi = t.at[ids["cold"], "deletion_oe_low"], t.at[ids["cold"], "deletion_oe_high"]
        tc.inside("cold_oe_covers_1", 1.0, lo, hi)
        tc.equal("no_loss_days", len(sc.loss_days_), 0)
    others = [s for s in t.index if s not in (ids["best"], ids["worst"])]
    if sc.measured_["messages"]:
        for role, who in (("best", [ids["best"]]), ("worst", [ids["worst"]]), ("other", others)):
            key = truth["staff"][role] if role != "other" else "other"
            q, r = t.loc[who, "questions"], t.loc[who, "reply_rate"]
            rate = float((q * r).sum() / q.sum())
            tc.within("reply_rate", rate, p["reply_probability"][key], 0.03, role=role)
            med = float(t.loc[who, "median_reply_minutes"].median())
            planted = p["mean_reply_minutes"][key] * np.log(2)
            tc.within("median_first_reply", med, planted, 0.25 * planted, role=role)
    if sc.measured_["broadcasts"]:
        for role, who in (("best", [ids["best"]]), ("worst", [ids["worst"]]), ("other", others)):
            key = truth["staff"][role] if role != "other" else "other"
            k, r = t.loc[who, "to_send"], t.loc[who, "execution_rate"]
            rate = float((k * r).sum() / k.sum())
            tc.within("broadcast_execution", rate, p["broadcast_execution"][key], 0.03, role=role)
    return tc


def grain_counts(eng) -> dict:
    """Count relationships, people, people with several relationships and staff members (engine-level)."""
    r = relationships(eng)
    per = r.group_by("user_id").aggregate(n=r.count())
    g = per.aggregate(relationships=per.n.sum(), people=per.count(), extra=(per.n > 1).cast("int64").sum())
    out = {k: int(v) for k, v in eng.to_pandas(g).iloc[0].items()}
    out["staff"] = int(eng.to_pandas(r.aggregate(s=r.staff_id.nunique()))["s"].iloc[0])
    return out


def crosswalk_sentence(crosswalk: pd.DataFrame, table_name: str, L) -> str:
    """Say whether a table's staff ids are the contacts' own, or how cleanly they were linked by shared customers."""
    from helpers.labels import fmt_pct

    if crosswalk["same_id"].all():
        return L.text(CATALOG, "crosswalk_same", table=table_name)
    linked = crosswalk.dropna(subset=["staff_id"])
    share = (linked["share"] * linked["customers"]).sum() / max(crosswalk["customers"].sum(), 1)
    return L.text(CATALOG, "crosswalk", table=table_name, n=int((~crosswalk["same_id"]).sum()), share=fmt_pct(share))


# ------------------------------------------------------------------------------------------------ charts
_PLOT = {
    "oe": {"zh": "观测/期望（O/E，95% 区间）", "en": "observed / expected (O/E, 95% interval)"},
    "deletion": {"zh": "30 天删除", "en": "30-day deletion"},
    "conversion": {"zh": "首单转化", "en": "first-order conversion"},
    "average": {"zh": "= 按其客户构成的平均水平", "en": "= average for their mix"},
    "raw": {"zh": "未调整", "en": "raw"},
    "adjusted": {"zh": "按渠道构成调整", "en": "mix-adjusted"},
    "rate": {"zh": "30 天删除率", "en": "30-day deletion rate"},
    "mix": {"zh": "新增好友的渠道构成", "en": "channel mix of the adds"},
    "share": {"zh": "占新增的比例", "en": "share of adds"},
}


def plot_oe(
    table: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", names: Sequence[str] | None = None
) -> plt.Axes:
    """Draw each staff member's deletion and conversion O/E with intervals (1 = average for their mix).

    Parameters
    ----------
    table : DataFrame
        :attr:`StaffScorecard.table_` (rank order).
    names : sequence of str, optional
        Display names of the staff, in the table's order (default: the ids).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(table) + 1.5))
    names = list(names) if names is not None else list(table.index)
    y = np.arange(len(table))[::-1].astype(float)
    for col, off, color in (("deletion_oe", 0.15, "#c44e52"), ("conversion_oe", -0.15, "#4c72b0")):
        if col not in table or table[col].isna().all():
            continue
        v, lo, hi = table[col], table[f"{col}_low"], table[f"{col}_high"]
        ax.errorbar(
            v, y + off, xerr=[v - lo, hi - v], fmt="o", color=color, capsize=3,
            label=_PLOT["deletion" if col.startswith("del") else "conversion"][lang],
        )  # fmt: skip
    ax.axvline(1.0, color="#666", ls="--", lw=1)
    ax.annotate(  # a few points right of the line: the text started on it, its first character struck through
        _PLOT["average"][lang], (1.0, y.max() + 0.6), xytext=(4, 0), textcoords="offset points",
        ha="left", va="bottom", fontsize=9, color="#666",
    )  # fmt: skip
    ax.set_yticks(y, names)
    ax.set_ylim(-0.8, y.max() + 1.2)
    ax.set_xlabel(_PLOT["oe"][lang])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return ax


def plot_raw_vs_adjusted(
    table: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", names: Sequence[str] | None = None
) -> plt.Axes:
    """Draw each staff member's raw 30-day deletion rate and its rate at the average mix (O/E × overall rate)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(table) + 1.5))
    names = list(names) if names is not None else list(table.index)
    y = np.arange(len(table))[::-1]
    raw, adj = table["deletion_rate_30d"], table["deletion_rate_adjusted"]
    ax.hlines(y, np.minimum(raw, adj), np.maximum(raw, adj), color="#bbb", lw=2)
    ax.scatter(raw, y, color="#999", label=_PLOT["raw"][lang], zorder=3)
    ax.scatter(adj, y, color="#c44e52", label=_PLOT["adjusted"][lang], zorder=3)
    ax.set_yticks(y, names)
    ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(_PLOT["rate"][lang])
    # below the axes: inside, it covered the bottom row's points (the last-ranked member, whom a lead looks for)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)  # as plot_oe's
    return ax


def plot_mix(
    mix: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", names: Sequence[str] | None = None
) -> plt.Axes:
    """Draw stacked bars of the channel mix of each staff member's adds (the reason raw rates are not comparable)."""
    from helpers.labels import Labels

    L = Labels(lang)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(mix) + 1.5))
    names = list(names) if names is not None else list(mix.index)
    m = mix.iloc[::-1]
    left = np.zeros(len(m))
    y = np.arange(len(m))
    for col in m.columns:
        ax.barh(y, m[col], left=left, height=0.7, label=L.name("channel", col))
        left += m[col].to_numpy()
    ax.set_yticks(y, names[::-1])
    ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, 1)
    ax.set_xlabel(_PLOT["share"][lang])
    ax.set_title(_PLOT["mix"][lang])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(6, len(m.columns)), fontsize=9)
    return ax
