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

from helpers.features import group_messages
from helpers.features import timestamp_literal as _ts

__all__ = [
    "WEEKDAYS",
    "best_hours",
    "daily_activity",
    "group_summary",
    "hour_weekday",
    "plot_group_trends",
    "plot_hour_weekday",
    "weekly_messages",
]

WEEKDAYS = ["Mon 周一", "Tue 周二", "Wed 周三", "Thu 周四", "Fri 周五", "Sat 周六", "Sun 周日"]


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


def weekly_messages(daily: pd.DataFrame) -> pd.DataFrame:
    """Messages per group per week (Monday-start), wide: one column per group."""
    return (
        daily.assign(week=daily["day"].dt.to_period("W-SUN").dt.start_time)
        .pivot_table(index="week", columns="group_id", values="messages", aggfunc="sum")
        .fillna(0)
    )


def plot_group_trends(daily: pd.DataFrame, groups: list[str], ncols: int = 4) -> plt.Figure:
    """Small multiples: weekly messages of each group (same y scale), to see which groups fade.

    Parameters
    ----------
    daily : DataFrame
        The daily series from :func:`group_summary`.
    groups : list of str
        Groups to show, in order.
    ncols : int
        Panels per row.

    Returns
    -------
    Figure
        The figure (one Axes per group).
    """
    wk = weekly_messages(daily)[groups]
    nrows = int(np.ceil(len(groups) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 1.8 * nrows), sharex=True, sharey=True, squeeze=False)
    for ax, g in zip(axes.flat, groups, strict=False):
        ax.fill_between(wk.index, wk[g], alpha=0.4)
        ax.plot(wk.index, wk[g], lw=1)
        ax.set_title(g, fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    fig.supxlabel("week 周")
    fig.supylabel("messages per week 每周消息数")
    fig.suptitle("Weekly messages per group 各群每周消息数")
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


def plot_hour_weekday(grid: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of messages by weekday and hour.

    Parameters
    ----------
    grid : DataFrame
        Output of :func:`hour_weekday`.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.8))
    sns.heatmap(grid, cmap="rocket_r", ax=ax, cbar_kws={"label": "messages 消息数"})
    ax.set_xlabel("hour of day 小时")
    ax.set_ylabel("weekday 星期")
    ax.set_title("When members talk: messages by weekday and hour 群消息时段分布")
    return ax
