"""Community activity (社群活跃): active ratios, silent members, concentration of talk, and when members talk.

Only messages are exported, not membership lists, so a group's **members** here are the people seen posting in it
(observed members). Members who never post are invisible: active ratios are therefore upper bounds, and the
prose says so. With a membership history the same functions take it as ``members``.
"""

from __future__ import annotations

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.definitions import whole_weeks
from helpers.features import group_messages
from helpers.features import timestamp_literal as _ts
from helpers.labels import Labels, bilingual_part, fmt_pct

__all__ = [
    "PUSH_TYPES",
    "TEXT",
    "WEEKDAYS",
    "best_hours",
    "best_hours_text",
    "crowding_table",
    "crowding_text",
    "hour_crowding",
    "push_hours",
    "quiet_busy_hour",
    "fading_groups",
    "headline",
    "overview_text",
    "daily_activity",
    "group_summary",
    "hour_weekday",
    "plot_group_trends",
    "plot_hour_weekday",
    "weekly_messages",
]

WEEKDAYS = ["Mon 周一", "Tue 周二", "Wed 周三", "Thu 周四", "Fri 周五", "Sat 周六", "Sun 周日"]

#: Sentences of notebook 05, filled with results (``Labels.text(TEXT, key, ...)``).
TEXT: dict[str, dict[str, str]] = {
    "no_messages_headline": {  # after the page title on the index and in 08
        "zh": "未测量（导出里没有群消息）",
        "en": "not measured (the export has no group messages)",
    },
    "no_messages": {
        "zh": "没有群消息表：社群活跃度未测量（这一页需要群消息）。",
        "en": "No messages table: community activity is not measured (this page needs group messages).",
    },
    "overview": {
        "zh": "{groups} 个群；日均活跃率（当日发言成员 ÷ 已出现成员，{start} 至 {end}）{active}；"
        "沉默成员占比中位数 {silent}；最活跃 10% 成员的发言占比中位数 {top10}。",
        "en": "{groups} groups; mean daily active ratio (members who posted that day ÷ members seen so far, "
        "{start} to {end}) {active}; median silent share {silent}; median top-10 % share {top10}.",
    },
    "hand_check": {
        "zh": "手工核对（最活跃的群）：用原始消息重算的日均活跃率与表中一致：{ok}",
        "en": "Hand check on the most active group: the mean daily active ratio recomputed from raw messages "
        "matches: {ok}",
    },
    "best_hours": {
        "zh": "群消息最多的时段：{hours} 点（这三个小时占全部群消息的 {share}）。",
        "en": "The busiest hours of group chat: {hours} h ({share} of all group messages in these three hours).",
    },
    "crowding": {
        "zh": "陷阱：成员最活跃的 {hour} 点也是最挤的时段——成员发言是平均小时的 {members}，"
        "我们自己的推送在同一小时是{pushes}（别的品牌、别的群也在这时发，它们看不到）。",
        "en": "The trap: {hour} h, when members talk most, is also the most crowded hour — members post {members} the "
        "average hour, and our own pushes in that hour are {pushes} (other brands and groups post then too, unseen).",
    },
    "quiet_hour": {
        "zh": "成员活跃（不低于平均小时）、相对我们的推送最不挤的是 {hour} 点：成员 {members}、推送合计 {pushes}。"
        "可以留出一组，试着把部分群发挪到这个小时，比较两组的回复和下单。",
        "en": "Among hours with members at least as active as average, the least crowded by our own pushes is "
        "{hour} h: members {members}, all pushes {pushes}. Keep a holdout and try moving part of the broadcasts "
        "there, then compare replies and orders between the two groups.",
    },
    "no_pushes": {
        "zh": "没有触达表或其中没有群发、朋友圈、直播等一对多推送：我们自己推送的时段未测量。",
        "en": "No touches table, or no one-to-many pushes in it (broadcasts, Moments, livestreams): the hours of our "
        "own pushes are not measured.",
    },
    "fading": {
        "zh": "最近 28 天消息量比之前 28 天下降超过一半的群：{groups}。",
        "en": "Groups whose messages in the last 28 days fell by more than half against the 28 days before: {groups}.",
    },
    "no_fading": {
        "zh": "没有哪个群最近 28 天的消息量比之前 28 天下降超过一半。",
        "en": "No group's messages in the last 28 days fell by more than half against the 28 days before.",
    },
}

_PLOT = {
    "zh": {
        "week": "周",
        "per_week": "每周消息数",
        "trends": "各群每周消息数",
        "messages": "消息数",
        "hour": "小时",
        "weekday": "星期",
        "heat": "群消息时段分布（星期 × 小时）",
    },
    "en": {
        "week": "week",
        "per_week": "messages per week",
        "trends": "Weekly messages per group",
        "messages": "messages",
        "hour": "hour of day",
        "weekday": "weekday",
        "heat": "When members talk: messages by weekday and hour",
    },
}


def daily_activity(messages: ibis.Table, start: str | pd.Timestamp, end: str | pd.Timestamp) -> ibis.Table:
    """Per group and day: messages, active members (distinct senders) and members known by that day.

    A member is known from the day of their first message in the group (observed membership).

    Returns
    -------
    ibis.Table
        ``group_id``, ``day``, ``messages``, ``active_members``, ``new_members``.
    """
    messages = group_messages(messages)  # members' own words in groups: no 1:1 chats, staff posts or recalls
    m = messages.filter(messages.sent_at < _ts(pd.Timestamp(end) + pd.Timedelta(days=1)))
    m = m.mutate(day=m.sent_at.date())
    first = m.group_by(["group_id", "user_id"]).aggregate(day=m.day.min())
    joins = first.group_by(["group_id", "day"]).aggregate(new_members=first.count())
    w = m.filter(m.day >= pd.Timestamp(start).date())
    act = w.group_by(["group_id", "day"]).aggregate(messages=w.count(), active_members=w.user_id.nunique())
    out = act.outer_join(joins, ["group_id", "day"])
    return out.select(
        group_id=ibis.coalesce(out.group_id, out.group_id_right),
        day=ibis.coalesce(out.day, out.day_right),
        messages=out.messages.fill_null(0),
        active_members=out.active_members.fill_null(0),
        new_members=out.new_members.fill_null(0),
    )


def _with_members(daily: pd.DataFrame, start, end) -> pd.DataFrame:
    """Complete the day grid per group and add cumulative members and the active ratio."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    out = []
    for g, d in daily.groupby("group_id"):
        d = d.assign(day=pd.to_datetime(d["day"])).set_index("day").sort_index()
        joined_before = d.loc[d.index < days[0], "new_members"].sum()
        d = d.reindex(days.union(d.index[d.index >= days[0]])).fillna(0)
        d = d[d.index >= days[0]]
        d["members"] = joined_before + d["new_members"].cumsum()
        d["group_id"] = g
        out.append(d)
    res = pd.concat(out).rename_axis("day").reset_index()
    res["active_ratio"] = res["active_members"] / res["members"].where(res["members"] > 0)
    return res[["group_id", "day", "messages", "active_members", "members", "active_ratio"]]


def group_summary(
    messages: ibis.Table,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    silent_days: int = 7,
    to_pandas=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Activity per group over ``start..end`` (inclusive days), and the daily series behind it.

    Parameters
    ----------
    messages : ibis.Table
        Contract ``messages``.
    start, end : str or Timestamp
        Window (days, inclusive).
    silent_days : int
        A member is *silent* if their last message is more than this many days before ``end``.
    to_pandas : callable, optional
        Executes ibis expressions (pass ``Engine.to_pandas``).

    Returns
    -------
    summary : DataFrame
        One row per group, most active first: ``members`` (observed by ``end``), ``messages``,
        ``messages_per_member``, ``mean_active_ratio`` (mean over days of active members ÷ members),
        ``silent_share``, ``top10_share`` (share of the window's messages sent by the top 10 % of members),
        ``recent_active_ratio`` (last 28 days) and ``trend`` (last 28 days vs the 28 before, messages).
    daily : DataFrame
        ``group_id``, ``day``, ``messages``, ``active_members``, ``members``, ``active_ratio``.
    """
    run = to_pandas or (lambda e: e.to_pandas())
    end_ts = pd.Timestamp(end).normalize()
    messages = group_messages(messages)
    daily = _with_members(run(daily_activity(messages, start, end_ts)), start, end_ts)
    m = messages.filter(messages.sent_at < _ts(end_ts + pd.Timedelta(days=1)))
    inwin = m.filter(m.sent_at >= _ts(start))
    per = run(inwin.group_by(["group_id", "user_id"]).aggregate(n=inwin.count()))
    last = run(m.group_by(["group_id", "user_id"]).aggregate(last=m.sent_at.max()))
    silent_cut = end_ts + pd.Timedelta(days=1) - pd.Timedelta(days=silent_days)
    silent = last.assign(silent=pd.to_datetime(last["last"]) < silent_cut).groupby("group_id")["silent"].mean()

    def top_share(n: pd.Series) -> float:
        k = max(1, int(np.ceil(0.1 * len(n))))
        return float(n.nlargest(k).sum() / n.sum()) if n.sum() else float("nan")

    top10 = per.groupby("group_id")["n"].apply(top_share)
    recent = daily[daily["day"] > end_ts - pd.Timedelta(days=28)]
    before = daily[(daily["day"] <= end_ts - pd.Timedelta(days=28)) & (daily["day"] > end_ts - pd.Timedelta(days=56))]
    g = daily.groupby("group_id")
    summary = pd.DataFrame(
        {
            "members": g["members"].last(),
            "messages": g["messages"].sum(),
            "mean_active_ratio": g["active_ratio"].mean(),
            "silent_share": silent,
            "top10_share": top10,
            "recent_active_ratio": recent.groupby("group_id")["active_ratio"].mean(),
            "trend": recent.groupby("group_id")["messages"].sum() / before.groupby("group_id")["messages"].sum() - 1,
        }
    )
    summary["messages_per_member"] = summary["messages"] / summary["members"].where(summary["members"] > 0)
    cols = [
        "members",
        "messages",
        "messages_per_member",
        "mean_active_ratio",
        "recent_active_ratio",
        "silent_share",
        "top10_share",
        "trend",
    ]
    summary = summary[cols].sort_values("recent_active_ratio", ascending=False)
    summary.index.name = "group_id"
    return summary, daily


def weekly_messages(daily: pd.DataFrame, complete_only: bool = False) -> pd.DataFrame:
    """Messages per group per week (Monday-start), wide: one column per group.

    With ``complete_only`` a week the data cover only in part (the export starts or ends inside it) is left out:
    its few days would read as a fall in activity (an open week is not a drop-off).

    Examples
    --------
    >>> days = pd.date_range("2025-01-06", "2025-01-22")  # Monday 6th to Wednesday 22nd: the third week is open
    >>> d = pd.DataFrame({"group_id": "g", "day": days, "messages": 1})
    >>> weekly_messages(d)["g"].tolist(), weekly_messages(d, complete_only=True)["g"].tolist()
    ([7, 7, 3], [7, 7])
    """
    d = daily.assign(week=daily["day"].dt.to_period("W-SUN").dt.start_time)
    out = d.pivot_table(index="week", columns="group_id", values="messages", aggfunc="sum").fillna(0)
    if complete_only and len(d):
        out = out[whole_weeks(out.index, d["day"].min(), d["day"].max())]
    return out


def plot_group_trends(
    daily: pd.DataFrame, groups: list[str], ncols: int = 4, lang: str = "zh", names: dict | None = None
) -> plt.Figure:
    """Small multiples: weekly messages of each group (same y scale), to see which groups fade.

    Parameters
    ----------
    daily : DataFrame
        The daily series from :func:`group_summary`.
    groups : list of str
        Groups to show, in order.
    ncols : int
        Panels per row.
    lang : {"zh", "en"}
        Language of the labels.
    names : dict, optional
        Group id → display name for the panel titles.

    Returns
    -------
    Figure
        The figure (one Axes per group).
    """
    from helpers.plotting import date_axis

    wk = weekly_messages(daily, complete_only=True)[groups]  # a partial first or last week is not a fall
    nrows = int(np.ceil(len(groups) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 1.8 * nrows), sharex=True, sharey=True, squeeze=False)
    for ax, g in zip(axes.flat, groups, strict=False):
        ax.fill_between(wk.index, wk[g], alpha=0.4)
        ax.plot(wk.index, wk[g], lw=1)
        ax.set_title((names or {}).get(g, g), fontsize="small")
        ax.tick_params(labelsize="x-small")
        date_axis(ax, lang, maxticks=3)  # a 3-inch panel holds three dates, not eleven
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    t = _PLOT[lang]
    fig.supxlabel(t["week"])
    fig.supylabel(t["per_week"])
    fig.suptitle(t["trends"])
    fig.tight_layout()
    return fig


def hour_weekday(
    messages: ibis.Table, start: str | pd.Timestamp, end: str | pd.Timestamp, to_pandas=None
) -> pd.DataFrame:
    """Messages by weekday (rows, Monday first) and hour of day (columns 0–23) in ``start..end``."""
    run = to_pandas or (lambda e: e.to_pandas())
    messages = group_messages(messages)
    m = messages.filter(
        (messages.sent_at >= _ts(start)) & (messages.sent_at < _ts(pd.Timestamp(end) + pd.Timedelta(days=1)))
    )
    t = run(
        m.group_by([m.sent_at.day_of_week.index().name("dow"), m.sent_at.hour().name("hour")]).aggregate(
            messages=m.count()
        )
    )
    grid = t.pivot_table(index="dow", columns="hour", values="messages", aggfunc="sum")
    grid = grid.reindex(index=range(7), columns=range(24)).fillna(0).astype("int64")
    grid.index = WEEKDAYS
    return grid


def best_hours(grid: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Return the ``k`` hours with the largest share of messages (all weekdays together).

    Examples
    --------
    >>> g = pd.DataFrame([[1] * 24] * 7, index=WEEKDAYS, columns=range(24))
    >>> g[21] = 10
    >>> best_hours(g, 1)["hour"].tolist()
    [21]
    """
    by_hour = grid.sum(axis=0)
    share = by_hour / by_hour.sum()
    top = share.sort_values(ascending=False, kind="stable").head(k)
    return pd.DataFrame({"hour": top.index.astype(int), "share": top.to_numpy(), "vs_average": top.to_numpy() * 24})


#: Our own one-to-many pushes: they compete with each other and with other brands for members' attention.
PUSH_TYPES = ("group_broadcast", "moments", "livestream", "official_account", "sms")


def push_hours(
    touches: ibis.Table,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    types: tuple[str, ...] = PUSH_TYPES,
    to_pandas=None,
) -> pd.DataFrame:
    """Our own one-to-many pushes by hour of day in ``start..end`` (touches counted in the engine).

    A push counts once per contact it reached (a broadcast to 300 friends counts 300): the attention it asks for.

    Returns
    -------
    DataFrame
        Index ``hour`` 0–23, one column per push type that was sent (in the order of ``types``).
    """
    run = to_pandas or (lambda e: e.to_pandas())
    t = touches.filter(
        touches.touch_type.isin(list(types))
        & (touches.touched_at >= _ts(start))
        & (touches.touched_at < _ts(pd.Timestamp(end) + pd.Timedelta(days=1)))
    )
    counts = run(t.group_by([t.touch_type, t.touched_at.hour().name("hour")]).aggregate(touches=t.count()))
    grid = counts.pivot_table(index="hour", columns="touch_type", values="touches", aggfunc="sum")
    sent = [c for c in types if c in grid.columns]
    out = grid.reindex(index=range(24), columns=sent).fillna(0).astype("int64")
    out.index.name = "hour"
    return out


def hour_crowding(grid: pd.DataFrame, pushes: pd.DataFrame) -> pd.DataFrame:
    """How crowded each hour is: members' messages and each push type as a multiple of their own average hour.

    1.0 is an average hour; 3.0 is three times an average hour. ``all_pushes`` adds the push types up first.

    Parameters
    ----------
    grid : DataFrame
        Members' messages by weekday × hour (:func:`hour_weekday`).
    pushes : DataFrame
        Our pushes by hour (:func:`push_hours`).

    Returns
    -------
    DataFrame
        Index ``hour`` 0–23; ``member_messages``, one column per push type, ``all_pushes``.

    Examples
    --------
    >>> g = pd.DataFrame([[1] * 24] * 7, index=WEEKDAYS, columns=range(24))
    >>> g[21] = 4
    >>> p = pd.DataFrame({"group_broadcast": [0] * 21 + [6, 0, 0]})
    >>> c = hour_crowding(g, p)
    >>> [round(float(c.loc[21, k]), 2) for k in ("member_messages", "group_broadcast", "all_pushes")]
    [3.56, 24.0, 24.0]
    """
    members = grid.sum(axis=0).reindex(range(24), fill_value=0).astype(float)
    out = pd.DataFrame({"member_messages": members / members.mean() if members.sum() > 0 else np.nan})
    sent = pushes.loc[:, pushes.sum() > 0].reindex(range(24), fill_value=0).astype(float)
    for c in sent.columns:
        out[c] = sent[c] / sent[c].mean()
    total = sent.sum(axis=1)
    out["all_pushes"] = total / total.mean() if total.sum() > 0 else np.nan
    out.index.name = "hour"
    return out


def quiet_busy_hour(crowd: pd.DataFrame) -> int | None:
    """Return the hour where members are busiest relative to our own pushes, among hours at least as busy as average.

    The ratio is members' crowding ÷ our pushes' crowding (an hour without pushes ranks first; ties go to the hour
    with more member messages). ``None`` when no hour qualifies or no push was measured.

    Examples
    --------
    >>> c = pd.DataFrame({"member_messages": [0.5, 1.5, 2.0], "all_pushes": [0.0, 0.4, 2.6]})
    >>> quiet_busy_hour(c)
    1
    """
    busy = crowd[crowd["member_messages"] >= 1.0]
    if busy.empty or busy["all_pushes"].isna().all():
        return None
    ratio = busy["member_messages"] / busy["all_pushes"].where(busy["all_pushes"] > 0, 1e-12)
    order = pd.DataFrame({"ratio": ratio, "members": busy["member_messages"]})
    return int(order.sort_values(["ratio", "members"], ascending=False, kind="stable").index[0])


def crowding_table(crowd: pd.DataFrame, hours, labels: Labels) -> pd.DataFrame:
    """Return the crowding of the given hours for the page: ``hour`` then the named columns (push types by name)."""
    t = crowd.loc[list(hours)]
    names = {"member_messages": labels.header("member_messages"), "all_pushes": labels.header("all_pushes")}
    unit = labels.pick("（× 平均小时）", " (× average hour)")
    t = t.rename(columns=lambda c: names.get(c) or labels.name("touch_type", c) + unit)
    return t.rename_axis("hour").reset_index()  # the hour as a column: its header is translated


def crowding_text(crowd: pd.DataFrame, hours, labels: Labels) -> str:
    """Return the trap sentence for the busiest member hour, then the quiet-but-busy hour to try instead."""
    times = "倍" if labels.lang == "zh" else "×"
    top = int(list(hours)[0])
    pushes = [c for c in crowd.columns if c not in ("member_messages", "all_pushes")]
    sep = "、" if labels.lang == "zh" else ", "
    each = sep.join(f"{labels.name('touch_type', c)} {crowd.at[top, c]:.1f} {times}" for c in pushes)
    members = f"{crowd.at[top, 'member_messages']:.1f} {times}"
    text = labels.text(TEXT, "crowding", hour=top, members=members, pushes=each)
    quiet = quiet_busy_hour(crowd)
    if quiet is not None and quiet != top:  # the busiest hour is also the best ratio: nothing to move
        text += " " + labels.text(
            TEXT,
            "quiet_hour",
            hour=quiet,
            members=f"{crowd.at[quiet, 'member_messages']:.1f} {times}",
            pushes=f"{crowd.at[quiet, 'all_pushes']:.1f} {times}",
        )
    return text


def plot_hour_weekday(grid: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Heatmap of messages by weekday and hour.

    Parameters
    ----------
    grid : DataFrame
        Output of :func:`hour_weekday`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    import seaborn as sns

    t = _PLOT[lang]
    grid = grid.set_axis([bilingual_part(str(d), lang) for d in grid.index], axis=0)

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.8))
    sns.heatmap(grid, cmap="rocket_r", ax=ax, cbar_kws={"label": t["messages"]})
    ax.set_xlabel(t["hour"])
    ax.set_ylabel(t["weekday"])
    ax.set_title(t["heat"])
    return ax


def overview_text(groups: pd.DataFrame, daily: pd.DataFrame, start, end, lang: str = "zh") -> str:
    """Return one sentence on all groups: count, pooled mean daily active ratio, median silent and top-10 % shares.

    The pooled ratio is Σ active members ÷ Σ members per day, averaged over the days of the window.
    """
    pooled = daily.groupby("day")[["active_members", "members"]].sum()
    active = (pooled["active_members"] / pooled["members"].where(pooled["members"] > 0)).mean()
    return TEXT["overview"][lang].format(
        groups=f"{len(groups):,}",
        start=pd.Timestamp(start).date(),
        end=pd.Timestamp(end).date(),
        active=fmt_pct(active),
        silent=fmt_pct(groups["silent_share"].median(), 0),
        top10=fmt_pct(groups["top10_share"].median(), 0),
    )


def fading_groups(groups: pd.DataFrame, drop: float = -0.5) -> list[str]:
    """Return the groups whose messages in the last 28 days fell by more than ``-drop`` against the 28 days before.

    Examples
    --------
    >>> g = pd.DataFrame({"trend": [-0.7, 0.1, float("nan")]}, index=["a", "b", "c"])
    >>> fading_groups(g)
    ['a']
    """
    return groups.index[groups["trend"] < drop].tolist()


def best_hours_text(hours: pd.DataFrame, lang: str = "zh") -> str:
    """Return the sentence naming the busiest hours (:func:`best_hours`) and their share of group messages."""
    return TEXT["best_hours"][lang].format(
        hours="、".join(str(h) for h in hours["hour"]) if lang == "zh" else ", ".join(str(h) for h in hours["hour"]),
        share=fmt_pct(hours["share"].sum()),
    )


def headline(groups: pd.DataFrame, hours: pd.DataFrame, lang: str = "zh", topic_note: str = "") -> str:
    """Return the page's one-sentence result for the report index."""
    fading = len(fading_groups(groups))
    busiest = hours["hour"].iloc[0]
    if lang == "zh":
        text = f"{len(groups)} 个群，{fading} 个最近 28 天消息量减半；群消息最多在 {busiest} 点"
    else:
        text = f"{len(groups)} groups, {fading} halved their messages in the last 28 days; busiest hour {busiest} h"
    return (
        text + (("；" if lang == "zh" else "; ") + topic_note if topic_note else "") + ("。" if lang == "zh" else ".")
    )
