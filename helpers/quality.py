"""Data-quality summaries and charts for notebook 00: accounting, date coverage, daily volume, quarantine reasons."""

from __future__ import annotations

import re

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.contract import DERIVED_TABLES, TABLES
from helpers.data import Dataset
from helpers.engine import parquet_glob

__all__ = [
    "accounting_holds",
    "kept_rows_read_back",
    "coverage",
    "daily_counts",
    "plot_accounting",
    "plot_daily_counts",
    "TEXT",
    "headline",
    "note_text",
    "quarantine_lines",
    "quarantine_reasons",
    "reason_text",
    "stray_tail",
]


def kept_rows_read_back(ds: Dataset, engine) -> bool:
    """Whether the engine reads back exactly the kept rows of every table (contacts: its relationships)."""
    kept = dict(zip(ds.accounting["table"], ds.accounting["kept"], strict=True))
    for name, n in kept.items():
        table = "relationships" if name == "contacts" and engine.has("relationships") else name
        if int(engine.table(table).count().execute()) != int(n):
            return False
    return True


def accounting_holds(ds: Dataset) -> bool:
    """Whether ``read == kept + quarantined`` for every table (it always should)."""
    a = ds.accounting
    return bool((a["read"] == a["kept"] + a["quarantined"]).all())


def coverage(ds: Dataset) -> pd.DataFrame:
    """Per table: rows, distinct users, and the first / last timestamp of each time column.

    Returns
    -------
    DataFrame
        One row per (table, time column): ``rows``, ``filled`` (rows with a value in that column), ``users``,
        ``first``, ``last``, ``days`` spanned — missing, not 0, for a column without a value (an export without
        deletion times has no span of them to show).
    """
    out = []
    for name in ds.tables:
        spooled = ds.tables.path(name)
        spec = TABLES[DERIVED_TABLES.get(name, name)]  # relationships have the columns of contacts
        tcols = [c.name for c in spec.columns if c.kind in ("timestamp", "date")]
        has_user = "user_id" in [c.name for c in spec.columns]
        if spooled is not None:  # a streamed table: one pass in DuckDB, without loading it
            aggs = ["count(*)", "count(DISTINCT user_id)" if has_user else "NULL"]
            aggs += [f'min("{c}"), max("{c}"), count("{c}")' for c in tcols]  # quoted: campaigns' "end" is a keyword
            vals = duckdb.execute(f"SELECT {', '.join(aggs)} FROM read_parquet(?)", [parquet_glob(spooled)]).fetchone()
            rows, users = vals[0], vals[1]
            got = vals[2:]
            spans = {c: (_stamp(got[3 * i]), _stamp(got[3 * i + 1]), int(got[3 * i + 2])) for i, c in enumerate(tcols)}
        else:
            df = ds.tables[name]
            rows, users = len(df), int(df["user_id"].nunique()) if has_user else None
            spans = {c: (df[c].min(), df[c].max(), int(df[c].notna().sum())) for c in tcols}
        for tc in tcols or [None]:
            first, last, filled = spans.get(tc, (pd.NaT, pd.NaT, None))
            out.append(
                {
                    "table": name,
                    "column": tc,
                    "rows": int(rows),
                    "filled": filled,
                    "users": None if users is None else int(users),
                    "first": first,
                    "last": last,
                    "days": (last - first).days + 1 if pd.notna(first) else None,
                }
            )
    return pd.DataFrame(out)


def _stamp(value) -> pd.Timestamp:
    return pd.Timestamp(value) if value is not None else pd.NaT


def quarantine_lines(ds: Dataset, n: int = 20, lang: str = "zh") -> pd.DataFrame:
    """Return the first ``n`` quarantine lines, reasons in the report language (all: quality/quarantine.csv)."""
    q = ds.quarantine.head(n).copy()
    if len(q):
        q["reason"] = q["reason"].map(lambda r: reason_text(r, lang))
    return q


def quarantine_reasons(ds: Dataset, lang: str = "en") -> pd.DataFrame:
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
    out = (
        q.assign(reason=generic)
        .groupby(["table", "column", "reason"], as_index=False)
        .agg(lines=("row", "size"), example_row=("row", "min"))
        .sort_values("lines", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    out["reason"] = out["reason"].map(lambda r: reason_text(r, lang))
    return out


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
                f"SELECT date_trunc('day', \"{col}\") AS day, count(*) AS n FROM read_parquet(?) "
                f'WHERE "{col}" IS NOT NULL GROUP BY 1'
            )
            d = duckdb.execute(sql, [parquet_glob(spooled)]).df()
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


#: What each table's main timestamp counts, per report language.
_TABLE_EVENTS = {
    "contacts": {"zh": "加好友", "en": "adds"},
    "orders": {"zh": "订单", "en": "orders"},
    "touches": {"zh": "触达", "en": "touches"},
    "messages": {"zh": "群消息", "en": "messages"},
    "leads": {"zh": "线索", "en": "leads"},
}

_TEXT = {
    "kept": {"zh": "保留", "en": "kept"},
    "quarantined": {"zh": "隔离", "en": "quarantined"},
    "of": {"zh": "{q:,} / {r:,} 行隔离（{share}）", "en": "{q:,} of {r:,} quarantined ({share})"},
    "rows": {"zh": "行数", "en": "rows"},
    "acc_title": {"zh": "每张表保留与隔离的行数", "en": "Rows kept and quarantined per table"},
    "week": {"zh": "周", "en": "week"},
    "weekly_title": {
        "zh": "各表每周数据量（只画完整的周；红点：这一周没有数据）",
        "en": "Events per week, whole weeks (red: a week with none)",
    },
}


def plot_accounting(accounting: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Bars per table: rows kept and rows quarantined, on a linear scale, each labelled with its share.

    Parameters
    ----------
    accounting : DataFrame
        ``Dataset.accounting`` (table, read, kept, quarantined).
    ax : Axes, optional
        Where to draw; a new figure if omitted.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    from helpers.labels import Labels, fmt_pct

    L = Labels(lang)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.55 * len(accounting) + 1.5))
    a = accounting.set_index("table")[["kept", "quarantined"]].iloc[::-1]
    y = np.arange(len(a))
    ax.barh(y, a["kept"], height=0.6, color="#4c72b0", label=_TEXT["kept"][lang])
    ax.barh(y, a["quarantined"], left=a["kept"], height=0.6, color="#dd8452", label=_TEXT["quarantined"][lang])
    for yi, q, r in zip(y, a["quarantined"], a["kept"] + a["quarantined"], strict=True):
        share = fmt_pct(q / r, 2) if r else "—"
        ax.annotate(
            _TEXT["of"][lang].format(q=int(q), r=int(r), share=share),
            (r, yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.set_yticks(y, L.names_of("table", a.index))
    ax.set_xlim(0, max(int((a["kept"] + a["quarantined"]).max()), 1) * 1.6)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(_TEXT["rows"][lang])
    ax.set_title(_TEXT["acc_title"][lang])
    ax.legend(loc="lower right")
    return ax


def plot_daily_counts(daily: pd.DataFrame, axes: np.ndarray | None = None, lang: str = "zh") -> np.ndarray:
    """Weekly events per table, one small panel each (linear scale), every calendar week of the span shown.

    A week without events is drawn at 0 (a red dot), so an export gap is visible. Only the first and last weeks,
    which the span cuts (fewer than 7 days observed), are left out: a partial week would look like a drop.

    Parameters
    ----------
    daily : DataFrame
        Output of :func:`daily_counts` (every calendar day).
    axes : array of Axes, optional
        One Axes per table column; a new figure if omitted.
    lang : {"zh", "en"}
        Language of the labels.

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
        ax.yaxis.set_major_locator(plt.MaxNLocator(4, integer=True))
        ax.set_ylabel(_TABLE_EVENTS.get(col, {}).get(lang, col), rotation=0, ha="right", va="center")
        zero = weekly.index[weekly[col] == 0]
        if len(zero):
            ax.scatter(zero, np.zeros(len(zero)), color="#c44e52", zorder=3, s=14)
    axes[0].set_title(_TEXT["weekly_title"][lang])
    axes[-1].set_xlabel(_TEXT["week"][lang])
    return axes


#: Sentences of notebook 00, generated from results.
TEXT = {
    "accounting": {
        "zh": "全部 {n} 张表满足 读取 = 保留 + 隔离：{ok}",
        "en": "read = kept + quarantined for all {n} tables: {ok}",
    },
    "tables": {"zh": "读到的表：{names}", "en": "tables: {names}"},
    "optional": {
        "zh": "可选表已提供：{present}；缺少：{missing}（缺少的表对应的分析显示为“未测量”）",
        "en": "optional tables present: {present}; missing: {missing} (their analyses read 'not measured')",
    },
    "none": {"zh": "无", "en": "none"},
    "readback": {
        "zh": "引擎 {engine} 读回的行数与保留行数完全一致",
        "en": "engine {engine} reads back exactly the kept rows",
    },
    "readback_bad": {
        "zh": "注意：引擎 {engine} 读回的行数与保留行数不一致——清洗后的表不完整，后面的结果不可信",
        "en": "WARNING: engine {engine} does not read back the kept rows: the clean tables are incomplete, and "
        "nothing after this can be trusted",
    },
    "stray": {
        "zh": "as_of 为自动：少数记录的时间远晚于其余数据，导出实际止于 {end}，这些记录按“未来时间”隔离",
        "en": "as_of auto: a few rows are dated long after the others; the export ends on {end} and they are "
        "quarantined as in the future",
    },
    "headline": {
        "zh": "读取 {tables} 张表共 {read} 行，隔离 {q} 行（{share}）；数据覆盖 {first} 至 {last}，导出日 {as_of}。",
        "en": "{tables} tables, {read} rows read, {q} quarantined ({share}); data from {first} to {last}, "
        "as_of {as_of}.",
    },
}


def headline(ds: Dataset, dates, lang: str = "zh") -> str:
    """Return the one-sentence result of notebook 00 (for the run's index page)."""
    from helpers.labels import fmt_int, fmt_pct

    a = ds.accounting
    read, q = int(a["read"].sum()), int(a["quarantined"].sum())
    return TEXT["headline"][lang].format(
        tables=len(a),
        read=fmt_int(read),
        q=fmt_int(q),
        share=fmt_pct(q / read if read else 0, 3),
        first=f"{dates.first_event:%Y-%m-%d}",
        last=f"{dates.last_event:%Y-%m-%d}",
        as_of=f"{dates.as_of:%Y-%m-%d}",
    )


#: The loader's quarantine reasons and load notes, in Chinese (English is how the loader writes them).
_REASONS_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(p), z)
    for p, z in [
        (r"^exact duplicate of row (\d+)$", r"与第 \1 行完全重复"),
        (r"^exact duplicate$", "完全重复的行"),
        (r"^duplicate (?P<columns>.+?) \(first at row (\d+)\)$", r"\g<columns> 重复（首次出现在第 \2 行）"),
        (r"^duplicate (?P<columns>.+)$", r"\g<columns> 重复"),
        (r"^orphan (?P<column>\w+) \(not in (?P<table>.+)\)$", r"\g<column> 不在\g<table>表中（孤儿记录）"),
        (r"^unknown (?P<column>\w+) \(allowed: (.+)\)$", r"\g<column> 取值不在允许范围（允许：\2）"),
        (r"^timestamp in the future \(after as_of (.+)\)$", r"时间晚于 as_of（\1），视为未来时间"),
        (r"^missing value$", "必填值为空"),
        (r"^unparseable timestamp$", "无法解析的时间"),
        (r"^unparseable amount$", "无法解析的金额"),
        (r"^negative amount$", "金额为负"),
        (r"^number that is not a date$", "数字不是日期"),
        (r"^time without a date$", "只有时间没有日期"),
        (r"^placeholder date$", "占位日期（如 9999-12-31、1970-01-01）"),
        (r"^foreign currency.*$", "外币金额（金额须为人民币）"),
        (r"^amount is not a finite number$", "金额不是有限数值"),
        (r"^implausible amount.*$", "金额不合理（≥ 10 亿元：金额列里是编号或手机号？）"),
        (r"^id in scientific notation.*$", "ID 被写成科学计数法（Excel 丢了位数）"),
        (r"^id longer than (\d+) characters$", r"ID 超过 \1 个字符"),
        (r"^NUL byte in cell$", "单元格含 NUL 字符"),
        (r"^wrong number of fields \((\d+), expected (\d+)\)$", r"字段数不对（\1 个，应为 \2 个）"),
        (r"^removed before it was added$", "删除时间早于添加时间"),
        (r"^campaign ends before it starts$", "活动结束早于开始"),
    ]
]


_NOTES_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(p), z)
    for p, z in [
        (r"^files not in the contract ignored: (.+)$", r"不属于数据契约的文件已忽略：\1"),
        (r"^(.+?): (\d+) title row\(s\) above the header skipped$", r"\1：跳过表头上方 \2 行标题"),
        (r"^(.+?): column '(.+)' read as '(.+)'$", r"\1：列「\2」读作 \3"),
        (r"^(.+?): personal-data columns dropped at load: (.+)$", r"\1：个人信息列在读取时删除：\2"),
        (r"^(.+?): columns not in the contract ignored: (.+)$", r"\1：契约之外的列已忽略：\2"),
        (r"^(.+?): ([\d,]+) (\w+) values replaced by keyed pseudonyms.*$", r"\1：\2 个 \3 值替换为带密钥的化名"),
        (
            r"^(.+?): ([\d,]+) (\w+) values that are personal data replaced by keyed pseudonyms$",
            r"\1：\2 个属于个人信息的 \3 值（手机号、微信号等）替换为带密钥的化名",
        ),
        (r"^(.+?): channel derived from WeCom add_way codes$", r"\1：渠道由企业微信 add_way 编码得出"),
        (r"^(.+?): ([\d,]+) refunds written as negative amounts made positive$", r"\1：\2 笔写成负数的退款已转为正数"),
        (r"^(.+?): ([\d,]+) empty status cells read as paid$", r"\1：\2 个空的订单状态按已支付读取"),
        (r"^pseudonyms keyed with the public demo key.*$", "化名使用公开的演示密钥（仅限模拟数据）"),
        (r"^pseudonyms keyed with key (\S+) \(.*\)$", r"化名使用密钥 \1 生成（同一把密钥每次运行得到相同的化名）"),
        (r"^(.+?): column '(.+)' also maps to '(.+)'; the first one is used$", r"\1：列「\2」也对应 \3，使用第一列"),
        (
            r"^contacts: ([\d,]+) extra relationships .*: ([\d,]+) relationships kept in relationships, ([\d,]+) "
            r"people in contacts .*$",
            r"好友：\1 条额外的好友关系（同一客户被多位员工添加）：关系表保留 \2 条关系，好友表 \3 人"
            r"（每人取第一条关系；任一关系在即为好友）",
        ),
        (
            r"^contacts: ([\d,]+) referrer_id values are not contacts.*$",
            r"好友：\1 个推荐人 ID 不在好友表中（保留：推荐人可能已删除）",
        ),
        (
            r"^(\w+): ([\d,]+) rows name a campaign_id not in campaigns \(kept\)$",
            r"\1：\2 行的活动 ID 不在活动表中（保留）",
        ),
        (
            r"^(.+?): ([\d,]+) (\w+) values longer than (\d+) characters cut to \d+$",
            r"\1：\2 个 \3 值超过 \4 个字符，已截断",
        ),
        (
            r"^(.+?): ([\d,]+) phone numbers, WeChat ids, e-mails or card numbers masked in (\w+)$",
            r"\1：\3 中 \2 处手机号、微信号、邮箱或卡号已遮盖",
        ),
        (
            r"^(.+?): ([\d,]+) (\w+) placeholder dates \(.*\) read as empty \(still a friend\)$",
            r"\1：\2 个 \3 占位日期（如 9999-12-31、1970-01-01、0）视为空（仍是好友）",
        ),
        (
            r"^(.+?): ([\d,]+) (\w+) placeholder dates \(.*\) read as empty$",
            r"\1：\2 个 \3 占位日期（如 9999-12-31、1970-01-01、0）视为空",
        ),
        (
            r"^(.+?): the text encoding changes inside the file: ([\d,]+) line\(s\) read as UTF-8, "
            r"([\d,]+) as (\S+) .*$",
            r"\1：文件内编码不一致：\2 行按 UTF-8 读取，\3 行按 \4 读取（逐行解码）",
        ),
        (r"^(.+?): not read \((.+)\); optional table '(\w+)' skipped$", r"\1：未读取（\2）；跳过可选表 \3"),
        (
            r"^(.+?): cannot be read:? \(?(.+?)\)?; optional table '(\w+)' skipped$",
            r"\1：无法读取（\2）；跳过可选表 \3",
        ),
        (
            r"^(.+?): file is empty \(no header row\); optional table '(\w+)' skipped$",
            r"\1：文件为空（没有表头）；跳过可选表 \2",
        ),
        (r"^(.+); optional table '(\w+)' skipped$", r"\1；跳过可选表 \2"),
        (
            r"^(.+?): ([\d,]+) removed_at after as_of read as empty.*$",
            r"\1：\2 个晚于 as_of 的删除时间视为空（as_of 时仍是好友）",
        ),
    ]
]


def note_text(note: str, lang: str = "zh") -> str:
    """Return a load note in the report language (the loader writes English; unknown notes stay as they are).

    Examples
    --------
    >>> note_text("orders.csv: column '下单时间' read as 'ordered_at'")
    'orders.csv：列「下单时间」读作 ordered_at'
    """
    if lang == "en":
        return note
    for pattern, zh in _NOTES_ZH:
        if pattern.match(note):
            return pattern.sub(zh, note)
    return note


def reason_text(reason: str, lang: str = "zh") -> str:
    """Return a quarantine reason in the report language (the loader writes English).

    Examples
    --------
    >>> reason_text("duplicate order_id (first at row 1543)")
    '订单号 重复（首次出现在第 1543 行）'
    >>> reason_text("orphan user_id (not in contacts)"), reason_text("duplicate user_id+staff_id")
    ('用户ID 不在好友表中（孤儿记录）', '用户ID、负责员工 重复')
    >>> reason_text("orphan user_id (not in contacts)", "en")
    'orphan user_id (not in contacts)'
    """
    if lang == "en":
        return reason
    from helpers.labels import Labels

    L = Labels("zh")
    shown = {  # the loader's column and table names are code: a page names them as its headers do
        "columns": lambda v: "、".join(L.header(c) for c in v.split("+")),
        "column": L.header,
        "table": lambda v: L.name("table", v),
    }
    for pattern, zh in _REASONS_ZH:
        m = pattern.match(str(reason))
        if m:
            named = re.sub(r"\\g<(\w+)>", lambda g, m=m: shown[g[1]](m[g[1]]), zh)
            return m.expand(named)
    return str(reason)
