"""Definitions pinned once: which inputs a metric needs, and "not measured" as a value rather than a zero.

The sales definitions (gross, refunds, net, purchase occasions) live with the engine reductions in
:mod:`helpers.features`; windows and denominators are named in each function that computes a rate. This module
holds what every notebook needs to say *honestly* that a figure cannot be computed from the data in hand:

- a metric whose input is absent (no ``removed_at`` anywhere, no touches, no spend, no messages …) is
  ``NaN`` in tables and exports, rendered as *not measured* (未测量) with the reason — never ``0``;
- :func:`removals_measured`, :func:`refunds_measured` and :func:`input_missing` say whether, and why not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "NOT_MEASURED",
    "adds_from_orders",
    "input_missing",
    "not_measured",
    "refunds_measured",
    "removals_measured",
    "whole_weeks",
]

#: How "not measured" reads on a page, per report language.
NOT_MEASURED = {"zh": "未测量", "en": "not measured"}

#: Why a metric is not measured, by missing input, per report language.
_REASONS = {
    "removals": {
        "zh": "导出中没有删除时间（删除时间一栏全为空），删除率、净增和好友留存无法计算",
        "en": "the export has no removal times (the removal-time column is empty for every contact), so deletion, net "
        "adds and friend retention cannot be computed",
    },
    "refunds": {
        "zh": "导出里没有一笔退款记录，退款未知，净成交额就是记录的成交额",
        "en": "the export records no refund at all (orders carry no refunded status), so refunds are unknown and net "
        "GMV is the sales recorded",
    },
    "touches": {"zh": "没有触达表", "en": "there is no touches table"},
    "spend": {"zh": "没有投放花费（花费表或活动成本）", "en": "there is no spend table and no campaign cost"},
    "messages": {"zh": "没有群消息表", "en": "there is no messages table"},
    "assignments": {"zh": "没有随机留出组（实验分组表）", "en": "no campaign kept a randomised holdout"},
    "adds_from_orders": {
        "zh": "好友的添加时间就是首单时间：导出里没有加好友日期，映射时用了首单，所以首单转化率不是测量结果"
        "（按构造接近 100%，差的只是首单被全额退款的人）",
        "en": "the contacts' add times are their first orders' times (the export has no add date and the mapping "
        "used the first order), so first-order conversion is not a measurement (near 100 % by construction; only "
        "customers whose first order was refunded in full fall short)",
    },
    "leads": {"zh": "没有线索表", "en": "there is no leads table"},
    "broadcasts": {"zh": "没有群发任务表", "en": "there is no broadcasts table"},
    "chats": {
        "zh": "消息表里没有一对一私聊（不属于任何群、带员工的消息）",
        "en": "the messages table holds no 1:1 chats (messages without a group and with a staff member)",
    },
    "broadcast_sends": {
        "zh": "群发表里没有发给单个客户的记录",
        "en": "the broadcasts table holds no sends to single customers",
    },
}


def removals_measured(contacts: pd.DataFrame) -> bool:
    """Whether the export records removals (deletions / blocks) at all.

    A ``removed_at`` column that is absent or empty for every contact means the export does not carry
    deletions — not that nobody deleted us. Deletion rates, net adds, friend retention and current-friend
    counts are then *not measured*.

    Examples
    --------
    >>> removals_measured(pd.DataFrame({"removed_at": [pd.NaT, pd.NaT]}))
    False
    >>> removals_measured(pd.DataFrame({"removed_at": [pd.NaT, pd.Timestamp("2025-01-02")]}))
    True
    """
    return "removed_at" in contacts.columns and bool(contacts["removed_at"].notna().any())


def refunds_measured(orders) -> bool:
    """Whether the export records refunds at all: some order has the status ``refunded``.

    An export without a status column (every order is paid by the contract) or with no refund in its whole
    history does not carry refunds — not that nobody asked for their money back. Refunds are then *not measured*,
    as removals are when no contact has a removal time. ``orders`` is the contract table, in pandas or the engine.

    Examples
    --------
    >>> refunds_measured(pd.DataFrame({"status": ["paid", "paid"]}))
    False
    >>> refunds_measured(pd.DataFrame({"status": ["paid", "refunded"]}))
    True
    """
    if "status" not in orders.columns:
        return False
    if isinstance(orders, pd.DataFrame):
        return bool(orders["status"].eq("refunded").any())
    return bool(orders.filter(orders["status"] == "refunded").limit(1).count().to_pyarrow().as_py())


def adds_from_orders(contacts: pd.DataFrame, first_orders: pd.DataFrame, share: float = 0.9) -> bool:
    """Whether the contacts' add times were taken from their first orders (then conversion cannot be measured).

    A shop export mapped into the contract often has no add date, and the mapping uses the first order's time
    (``examples/online_retail_to_contract.py`` does). Every buyer then "converts" at day 0.00 and first-order
    conversion is 100 % by construction. True when at least ``share`` of the contacts who bought after being added
    did so at the very moment they were added.

    Examples
    --------
    >>> c = pd.DataFrame({"user_id": ["a", "b", "c"]})
    >>> adds_from_orders(c, pd.DataFrame({"user_id": ["a", "b"], "days_to_first_order": [0.0, 0.0]}))
    True
    >>> adds_from_orders(c, pd.DataFrame({"user_id": ["a", "b"], "days_to_first_order": [0.0, 3.5]}))
    False
    """
    days = first_orders.loc[first_orders["user_id"].isin(contacts["user_id"]), "days_to_first_order"].dropna()
    return bool(len(days)) and float((days == 0).mean()) >= share


def input_missing(what: str, lang: str = "zh") -> str:
    """Return the reason a metric is not measured when input ``what`` is absent, in the report language.

    Examples
    --------
    >>> input_missing("touches", "en")
    'there is no touches table'
    """
    return _REASONS[what][lang]


def not_measured(reason: str, lang: str = "zh") -> str:
    """Render "not measured" with its reason.

    Examples
    --------
    >>> not_measured("there is no touches table", "en")
    'not measured (there is no touches table)'
    """
    return f"{NOT_MEASURED[lang]}（{reason}）" if lang == "zh" else f"{NOT_MEASURED[lang]} ({reason})"


def mark_not_measured(frame: pd.DataFrame, columns: list[str], reason: str) -> pd.DataFrame:
    """Set ``columns`` to NaN and record why in ``frame.attrs["not_measured"]`` (display code reads it)."""
    out = frame.copy()
    for c in columns:
        out[c] = np.nan
    out.attrs["not_measured"] = {**frame.attrs.get("not_measured", {}), **dict.fromkeys(columns, reason)}
    return out


def whole_weeks(weeks: pd.Index, first: pd.Timestamp, last: pd.Timestamp) -> np.ndarray:
    """Return which weeks (their Monday) the data, spanning days ``first`` to ``last``, cover in full.

    A week the data start or end inside is open: its few days would read as a fall in activity, and an open window
    is not a drop-off. Charts of weekly counts leave those weeks out.

    Examples
    --------
    >>> weeks = pd.DatetimeIndex(["2025-01-06", "2025-01-13", "2025-01-20"])
    >>> whole_weeks(weeks, pd.Timestamp("2025-01-06"), pd.Timestamp("2025-01-22")).tolist()
    [True, True, False]
    """
    return np.asarray((weeks >= first) & (weeks + pd.Timedelta(days=6) <= last), dtype=bool)
