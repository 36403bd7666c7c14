"""What a reader sees, in the report language: display names, table headers, number formats and sentences.

Every label on a page comes from here (or from a user's names file), so code slugs (``parcel_card``,
``group_broadcast``, ``markov_gmv``) never reach a page: Chinese by default, English with ``lang="en"``.

- :data:`NAMES` — display names of codes by kind (channels, touch types, tiers, RFM classes, arms, campaign kinds,
  tables …). A team adds its own codes (WeCom ``state`` values, group ids, campaign ids) in a names file:
  a CSV with ``kind, code, zh, en`` (see :func:`read_names`), passed as the ``names_file`` parameter.
- :data:`HEADERS` — table headers by column name, in sections per notebook.
- :class:`Labels` — the object a notebook uses: ``L.name(kind, code)``, ``L.header(col)``, ``L.show(frame)``
  (a formatted, translated table), ``L.text(catalog, key, **values)`` (a sentence generated from results).
- Formatters: :func:`fmt_int`, :func:`fmt_pct`, :func:`fmt_pp` (percentage points), :func:`fmt_money`,
  :func:`fmt_p` (``< 0.001``), :func:`fmt_change` (arrow, coloured by whether up is good).

A value with no display name (a channel the team named itself, a group id) is shown as it is: data values are not
code slugs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.definitions import NOT_MEASURED

__all__ = [
    "HEADERS",
    "LANGS",
    "NAMES",
    "Labels",
    "bilingual_part",
    "fmt_change",
    "fmt_int",
    "fmt_money",
    "fmt_p",
    "fmt_pct",
    "fmt_pp",
    "read_names",
]

LANGS = ("zh", "en")


def _n(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


#: Display names of codes, by kind.
NAMES: dict[str, dict[str, dict[str, str]]] = {
    "channel": {
        "全部 / all": _n("全部", "all"),
        "(none)": _n("（未记录）", "(not recorded)"),  # a funnel's group of contacts without one
        "store_qr": _n("门店二维码", "store QR code"),
        "parcel_card": _n("包裹卡", "parcel card"),
        "livestream": _n("直播间", "livestream"),
        "official_account": _n("公众号", "official account"),
        "paid_ads": _n("广告投放", "paid ads"),
        "referral": _n("老带新", "referral"),
        # WeCom add_way codes
        "unknown": _n("未知来源", "unknown source"),
        "scan_qr": _n("扫描二维码", "scanned QR code"),
        "search_phone": _n("搜索手机号", "phone search"),
        "card_share": _n("名片分享", "shared contact card"),
        "group_chat": _n("群聊", "group chat"),
        "phone_contacts": _n("手机通讯录", "phone contacts"),
        "wechat_contact": _n("微信联系人", "WeChat contact"),
        "third_party_app": _n("第三方应用", "third-party app"),
        "search_email": _n("搜索邮箱", "e-mail search"),
        "channels_video": _n("视频号", "WeChat Channels"),
        "schedule": _n("日程参与人", "schedule attendee"),
        "meeting": _n("会议参与人", "meeting attendee"),
        "wechat_friend": _n("微信好友", "WeChat friend"),
        "smart_hardware": _n("智能硬件", "smart hardware"),
        "internal_share": _n("内部成员共享", "shared by a colleague"),
        "admin_assign": _n("管理员分配", "assigned by an admin"),
        # Online Retail example: market stands in for the channel
        "uk": _n("英国", "UK"),
        "eu": _n("欧洲", "Europe"),
        "rest_of_world": _n("其他地区", "rest of world"),
        "all": _n("全部", "all"),
    },
    "touch_type": {
        "moments": _n("朋友圈", "Moments"),
        "group_broadcast": _n("社群群发", "group broadcast"),
        "private_chat": _n("私聊", "1:1 chat"),
        "livestream": _n("直播", "livestream"),
        "coupon": _n("优惠券", "coupon"),
        "official_account": _n("公众号推文", "official-account post"),
        "sms": _n("短信", "SMS"),
        "message": _n("消息", "message"),
    },
    "tier": {
        "high_value": _n("高价值", "high value"),
        "potential": _n("潜力", "potential"),
        "regular": _n("一般", "regular"),
        "at_risk": _n("流失风险", "at risk"),
        "new": _n("新客", "new"),
        "dormant": _n("沉睡", "dormant"),
        "(not yet a contact)": _n("（当时还不是好友）", "(not yet a contact)"),
    },
    "move": {
        "up": _n("上移", "up"),
        "down": _n("下移", "down"),
        "same": _n("不变", "same"),
        "from new": _n("新客已分层", "new, now tiered"),
    },
    "rfm_class": {
        "champions": _n("重要价值", "champions"),
        "develop": _n("重要发展", "develop"),
        "retain": _n("重要保持", "retain"),
        "win_back": _n("重要挽留", "win back"),
        "loyal_low_spend": _n("一般价值", "loyal, low spend"),
        "new_low_spend": _n("一般发展", "new, low spend"),
        "fading_low_spend": _n("一般保持", "fading, low spend"),
        "lost_low_spend": _n("一般挽留", "lost, low spend"),
        "never_bought": _n("未购", "never bought"),
    },
    "arm": {"treatment": _n("实验组", "treatment"), "control": _n("对照组", "control")},
    "campaign_kind": {
        "acquisition": _n("拉新", "acquisition"),
        "livestream": _n("直播", "livestream"),
        "coupon": _n("优惠券", "coupon"),
        "fission": _n("裂变", "fission"),
        "content": _n("内容", "content"),
        "holdout": _n("留出实验", "holdout test"),
        "message": _n("消息", "message"),
    },
    "table": {
        "contacts": _n("好友", "contacts"),
        "orders": _n("订单", "orders"),
        "touches": _n("触达", "touches"),
        "campaigns": _n("活动", "campaigns"),
        "assignments": _n("实验分组", "assignments"),
        "leads": _n("线索", "leads"),
        "messages": _n("群消息", "messages"),
        "spend": _n("投放花费", "spend"),
        "staff": _n("员工", "staff"),
        "broadcasts": _n("群发任务", "broadcasts"),
        "group_members": _n("群成员", "group members"),
    },
    "action": {
        "private_chat": _n("私聊", "private chat"),
        "group_broadcast": _n("群发", "broadcast"),
        "coupon": _n("优惠券", "coupon"),
        "leave_alone": _n("暂不打扰", "leave alone"),
    },
    "model": {
        "first": _n("首次触点", "first touch"),
        "last": _n("末次触点", "last touch"),
        "linear": _n("线性", "linear"),
        "position": _n("位置 40/20/40", "position 40/20/40"),
        "time_decay": _n("时间衰减", "time decay"),
        "markov": _n("马尔可夫", "Markov"),
        "shapley": _n("夏普利值", "Shapley"),
    },
    "period": {"previous": _n("上期", "previous"), "current": _n("本期", "current")},
    "population": {
        "buyers": _n("买过的客户", "past buyers"),
        "never_buyers": _n("从未购买的客户", "never-buyers"),
        "all": _n("全部客户", "everyone"),
    },
    "score_kind": {
        "incremental_value": _n("预期增量毛利", "expected incremental profit"),
        "due": _n("“到期”得分", "due score"),
    },
    "outcome": {"order": _n("下单", "order"), "deletion": _n("删好友", "deletion")},
    "uplift_verdict": {
        "model": _n("按个体增量排序", "rank by individual uplift"),
        "average": _n("只用平均效应", "average effect only"),
    },
    "contact_list": {
        "new": _n("新名单（本页）", "new list (this page)"),  # ranked by uplift or by the due score: see the page
        "old": _n("旧名单（仍活跃概率 × 价值）", "old list (P(alive) × value)"),
    },
    "date": {
        "as_of": _n("导出日 as_of", "as_of (export date)"),
        "last_day": _n("最后观测日", "last day observed"),
        "window_start": _n("分析窗口起", "window start"),
        "window_end": _n("分析窗口止", "window end"),
        "calibration_end": _n("模型校准截止", "calibration end"),
        "previous_as_of": _n("上一快照", "previous snapshot"),
    },
    "unit": {"D": _n("天", "days"), "W": _n("周", "weeks")},
    "spend_source": {
        "spend table": _n("投放花费表", "spend table"),
        "campaign cost": _n("活动成本", "campaign cost"),
        "none": _n("无", "none"),
    },
    "yes_no": {"True": _n("是", "yes"), "False": _n("否", "no")},
    "value_model": {
        "gamma_gamma": _n("Gamma-Gamma", "Gamma-Gamma"),
        "spend_regression": _n("消费回归", "spend regression"),
    },
    "segment": {
        "high_value": _n("高价值", "high value"),
        "potential": _n("潜力", "potential"),
        "at_risk": _n("流失风险", "at risk"),
        "dormant": _n("沉睡", "dormant"),
    },
    "association": {
        "higher": _n("更高", "higher"),
        "lower": _n("更低", "lower"),
        "no clear difference": _n("无明显差别", "no clear difference"),
    },
}

#: Table headers by column name, one section per notebook (shared names first).
HEADERS: dict[str, dict[str, str]] = {
    # shared
    "channel": _n("渠道", "channel"),
    "campaign": _n("活动", "campaign"),
    "campaign_id": _n("活动", "campaign"),
    "touch_type": _n("触达方式", "touch type"),
    "tier": _n("分层", "tier"),
    "user_id": _n("用户ID", "user id"),
    "staff_id": _n("负责员工", "staff"),
    "group": _n("组", "group"),
    "group_id": _n("群", "group"),
    "variant": _n("话术", "script"),
    "day": _n("天数", "day"),
    "date": _n("日期", "date"),
    "period": _n("周期", "period"),
    "contacts": _n("好友数", "contacts"),
    "users": _n("用户数", "users"),
    "buyers": _n("购买人数", "buyers"),
    "orders": _n("订单数", "orders"),
    "gmv": _n("成交额", "GMV"),
    "net_gmv": _n("净成交额", "net GMV"),
    "gross_gmv": _n("成交额（含退款）", "gross GMV"),
    "refunds": _n("退款", "refunds"),
    "share": _n("占比", "share"),
    "estimate": _n("估计值", "estimate"),
    "std_error": _n("标准误", "std. error"),
    "ci_low": _n("区间下限", "CI low"),
    "ci_high": _n("区间上限", "CI high"),
    "p_value": _n("p 值", "p-value"),
    "verdict": _n("结论", "verdict"),
    "note": _n("说明", "note"),
    "reason": _n("原因", "reason"),
    "value": _n("值", "value"),
    "how": _n("来源", "how set"),
    "quantity": _n("检验项", "quantity"),
    "truth": _n("真值", "truth"),
    "rule": _n("规则", "rule"),
    "ok": _n("通过", "passed"),
    # 00 data preparation
    "table": _n("表", "table"),
    "file": _n("文件", "file"),
    "encoding": _n("编码", "encoding"),
    "header_row": _n("表头行", "header row"),
    "read": _n("读取行数", "rows read"),
    "kept": _n("保留", "kept"),
    "quarantined": _n("隔离", "quarantined"),
    "column": _n("列", "column"),
    "lines": _n("行数", "lines"),
    "example_row": _n("示例行号", "example row"),
    "row": _n("源文件行号", "source row"),
    "rows": _n("行数", "rows"),
    "filled": _n("有值行数", "rows with a value"),
    "first": _n("最早", "first"),
    "last": _n("最晚", "last"),
    "days": _n("覆盖天数", "days"),
    "*": _n("整行", "whole row"),
    # contract columns (quarantine and coverage name them)
    "added_at": _n("添加时间", "added at"),
    "removed_at": _n("删除时间", "removed at"),
    "ordered_at": _n("下单时间", "ordered at"),
    "touched_at": _n("触达时间", "touched at"),
    "sent_at": _n("发送时间", "sent at"),
    "created_at": _n("线索时间", "created at"),
    "start": _n("开始", "start"),
    "end": _n("结束", "end"),
    "amount": _n("金额", "amount"),
    "status": _n("状态", "status"),
    "order_id": _n("订单号", "order id"),
    "lead_id": _n("线索ID", "lead id"),
    "referrer_id": _n("推荐人", "referrer"),
    "arm": _n("分组", "arm"),
    "cost": _n("花费", "cost"),
    "name": _n("名称", "name"),
    "kind": _n("类型", "kind"),
    # 01 acquisition
    "leads": _n("线索数", "leads"),
    "leads_added": _n("窗口内加上好友的线索", "leads added in window"),
    "add_rate": _n("加好友率", "add rate"),
    "censored": _n("窗口未结束（删失）", "window still open (censored)"),
    "first_orders": _n("窗口内首单", "first orders in window"),
    "lead_to_order": _n("线索 → 首单", "lead → first order"),
    "median_days_to_first_order": _n("首单天数中位数", "median days to first order"),
    "n": _n("样本数", "n"),
    "successes": _n("成功数", "successes"),
    "success_rate": _n("成功率", "success rate"),
    "diff": _n("与对照之差", "difference vs control"),
    "diff_ci_low": _n("差值区间下限", "difference, CI low"),
    "diff_ci_high": _n("差值区间上限", "difference, CI high"),
    "p_adjusted": _n("p 值（Holm 校正）", "p-value (Holm)"),
    "mde": _n("最小可检测差异", "minimum detectable effect"),
    "deletion_rate_90d": _n("90 天删除率", "90-day deletion"),
    "first_buyers": _n("窗口内首单人数", "first buyers in window"),
    "cost_per_first_buyer": _n("每位首单客户成本", "cost per first buyer"),
    "spend_source": _n("花费来源", "spend from"),
    "periods_observed": _n("已观察周期数（30 天）", "periods observed (30 days)"),
    "payback_period": _n("回本周期（第几个 30 天）", "payback period (30-day)"),
    "ltv_to_cac_6": _n("180 天 LTV / CAC", "LTV / CAC at 180 days"),
    "period_start": _n("期初", "period start"),
    "period_end": _n("期末", "period end"),
    "cohort_start": _n("转化批次起", "cohort from"),
    "cohort_end": _n("转化批次止", "cohort to"),
    "cohort_eligible": _n("该批次新增（窗口已结束）", "cohort adds (window closed)"),
    "cohort_conversion": _n("该批次首单转化率", "cohort first-order conversion"),
    # 02 user tiers
    "n_values": _n("有值的人数", "contacts with a value"),
    "mean_value": _n("平均值", "mean"),
    "median_value": _n("中位数", "median"),
    "max_value": _n("最大值", "max"),
    "recency_days": _n("距上次消费天数 (R)", "days since last purchase (R)"),
    "purchase_days": _n("消费天数", "purchase days"),
    "tenure_days": _n("加好友天数", "days since added"),
    "orders_per_30d": _n("每 30 天订单数", "orders per 30 days"),
    "avg_order_value": _n("客单价", "average order value"),
    "touches": _n("收到的触达", "touches received"),
    "is_friend": _n("仍是好友", "still a contact"),
    "rfm_class": _n("RFM 类别", "RFM class"),
    "gmv_share": _n("净成交额占比", "share of net GMV"),
    "median_recency_days": _n("距上次消费天数（中位数）", "days since last purchase (median)"),
    "median_orders_per_30d": _n("每 30 天订单数（中位数）", "orders per 30 days (median)"),
    "median_avg_order_value": _n("客单价（中位数）", "average order value (median)"),
    "median_net_gmv": _n("净成交额（中位数）", "net GMV (median)"),
    "median_tenure_days": _n("加好友天数（中位数）", "days since added (median)"),
    "median_orders": _n("订单数（中位数）", "orders (median)"),
    "median_touches": _n("收到的触达（中位数）", "touches received (median)"),
    "median_messages": _n("群消息数（中位数）", "messages (median)"),
    # 03 repurchase
    "model": _n("模型", "model"),
    "fitted": _n("已拟合", "fitted"),
    "n_params": _n("参数个数", "parameters"),
    "log_likelihood": _n("对数似然", "log-likelihood"),
    "aic": _n("AIC", "AIC"),
    "bic": _n("BIC", "BIC"),
    "actual_total": _n("实际合计", "actual total"),
    "predicted_total": _n("预测合计", "predicted total"),
    "total_error_pct": _n("合计误差 %", "total error %"),
    "abs_total_error_pct": _n("合计误差绝对值 %", "abs. total error %"),
    "poisson_deviance": _n("泊松偏差（人均）", "Poisson deviance per customer"),
    "rmse_per_customer": _n("人均均方根误差", "RMSE per customer"),
    "mae_per_customer": _n("人均绝对误差", "MAE per customer"),
    "spearman": _n("秩相关（Spearman）", "rank correlation (Spearman)"),
    "total": _n("合计", "total"),
    "total_lower": _n("合计下限", "total, lower"),
    "total_upper": _n("合计上限", "total, upper"),
    "mean": _n("人均", "mean"),
    "mean_lower": _n("人均下限", "mean, lower"),
    "mean_upper": _n("人均上限", "mean, upper"),
    "customers_not_fitted": _n("未拟合客户", "customers not fitted"),
    "followup_days": _n("最长跟踪天数", "longest follow-up, days"),
    "p_buy": _n("期内首购概率", "P(first purchase in horizon)"),
    "p_buy_lower": _n("首购概率下限", "P(first purchase), lower"),
    "p_buy_upper": _n("首购概率上限", "P(first purchase), upper"),
    "expected_purchases": _n("预计购买次数", "expected purchases"),
    "purchases_lower": _n("购买次数下限", "purchases, lower"),
    "purchases_upper": _n("购买次数上限", "purchases, upper"),
    "first_value": _n("首单价值", "first-purchase value"),
    "repeat_value": _n("复购单次价值", "repeat-purchase value"),
    "value_lower": _n("价值下限", "value, lower"),
    "value_upper": _n("价值上限", "value, upper"),
    "repeat_buyers": _n("复购人数", "repeat buyers"),
    "cac": _n("获客成本 CAC", "CAC"),
    "ltv_cac": _n("LTV / CAC", "LTV / CAC"),
    "ltv_cac_lower": _n("LTV / CAC 下限", "LTV / CAC, lower"),
    "ltv_cac_upper": _n("LTV / CAC 上限", "LTV / CAC, upper"),
    "decile": _n("十分位", "decile"),
    "predicted": _n("预测", "predicted"),
    "actual": _n("实际", "actual"),
    "auc": _n("AUC", "AUC"),
    "brier": _n("Brier 分数", "Brier score"),
    "top_decile_lift": _n("前 10% 提升度", "top-decile lift"),
    "feature": _n("特征", "feature"),
    "auc_drop": _n("打乱后 AUC 下降", "AUC drop when shuffled"),
    "std": _n("标准差", "std. dev."),
    "segment": _n("模拟分群", "planted segment"),
    "parameter": _n("参数", "parameter"),
    "clv": _n("终身价值", "lifetime value"),
    "clv_profit": _n("终身毛利（折现）", "lifetime gross profit (discounted)"),
    "clv_lower": _n("终身价值下限", "lifetime value, lower"),
    "clv_upper": _n("终身价值上限", "lifetime value, upper"),
    "planted_total": _n("按模拟参数的合计", "total at planted parameters"),
    "relative_error": _n("相对误差", "relative error"),
    "inside_interval": _n("区间包含真值", "truth inside interval"),
    # 04 attribution
    "path": _n("触达路径", "path"),
    "conversions": _n("转化数", "conversions"),
    "nulls": _n("未转化旅程", "non-converting journeys"),
    "attributed_gmv": _n("归因成交额", "credited GMV"),
    "roas": _n("ROAS（成交额 ÷ 花费）", "ROAS (GMV ÷ cost)"),
    "roas_below_1": _n("ROAS 低于 1", "ROAS below 1"),
    "generation": _n("代", "generation"),
    "conversion_treated": _n("实验组活动期下单率", "treatment order rate"),
    "conversion_control": _n("对照组活动期下单率", "control order rate"),
    "lift": _n("增量（实验 − 对照）", "lift (treatment − control)"),
    "lift_ci_low": _n("增量区间下限", "lift, CI low"),
    "lift_ci_high": _n("增量区间上限", "lift, CI high"),
    "lift_p_value": _n("增量 p 值", "lift p-value"),
    "value_per_user": _n("实验组人均成交额", "GMV per treated contact"),
    "value_per_user_control": _n("对照组人均成交额", "GMV per control contact"),
    "value_lift": _n("人均成交额增量", "GMV lift per contact"),
    "value_lift_ci_low": _n("成交额增量下限", "GMV lift, CI low"),
    "value_lift_ci_high": _n("成交额增量上限", "GMV lift, CI high"),
    "value_p_value": _n("成交额增量 p 值", "GMV lift p-value"),
    "incremental_conversions": _n("增量下单数", "incremental orders"),
    # 05 community
    "members": _n("成员数", "members"),
    "messages": _n("消息数", "messages"),
    "messages_per_member": _n("人均消息数", "messages per member"),
    "mean_active_ratio": _n("日均活跃率", "mean daily active ratio"),
    "recent_active_ratio": _n("近 28 天日均活跃率", "active ratio, last 28 days"),
    "silent_share": _n("沉默成员占比", "silent share"),
    "top10_share": _n("前 10% 成员发言占比", "top-10 % share"),
    "trend": _n("近 28 天消息环比", "messages, last 28 d vs 28 d before"),
    "hour": _n("小时", "hour"),
    "vs_average": _n("相对平均小时", "vs average hour"),
    "member_messages": _n("成员发言（× 平均小时）", "member messages (× average hour)"),
    "all_pushes": _n("我们的推送合计（× 平均小时）", "all our pushes (× average hour)"),
    "topic": _n("话题", "topic"),
    "top_words": _n("高频词", "top words"),
    "coherence": _n("一致性（NPMI）", "coherence (NPMI)"),
    "diversity": _n("多样性", "diversity"),
    "quality": _n("话题质量", "topic quality"),
    "reconstruction_error": _n("重构误差", "reconstruction error"),
    "peak_hour": _n("消息最多的小时", "busiest hour"),
    "peak_share": _n("该小时占比", "share in that hour"),
    "index": _n("高峰指数", "peak index"),
    "relative_peak_hour": _n("话题最突出的小时", "hour the topic dominates"),
    "customers": _n("客户数", "customers"),
    "followed": _n("7 天内有购买的消息", "followed by a purchase in 7 days"),
    "rate": _n("7 天内购买率", "7-day purchase rate"),
    "rate_ci_low": _n("购买率下限", "rate CI low"),
    "rate_ci_high": _n("购买率上限", "rate CI high"),
    "baseline_rate": _n("其他话题购买率", "rate, other topics"),
    "ratio": _n("购买率之比", "rate ratio"),
    "ratio_ci_low": _n("比值下限", "ratio CI low"),
    "ratio_ci_high": _n("比值上限", "ratio CI high"),
    "association": _n("关联", "association"),
    "week": _n("周", "week"),
    "rank": _n("排名", "rank"),
    "keyword": _n("关键词", "keyword"),
    "score": _n("得分", "score"),
    "planted": _n("模拟话题", "planted topic"),
    "overlap": _n("前 5 词命中", "top-5 words matched"),
    "purity": _n("纯度", "purity"),
    "planted_peak": _n("模拟高峰小时", "planted peak hour"),
    # 06 targeting (add its headers here)
    # 06 targeting
    "n_treated": _n("实验组人数", "treated"),
    "n_control": _n("对照组人数", "control"),
    "buyer_share": _n("此前买过的占比", "share who had bought"),
    "population": _n("实验人群（模型只给这类客户打分）", "tested among (and scores only them)"),
    "cost_per_treated": _n("每人成本", "cost per treated"),
    "usable": _n("样本够用", "large enough"),
    "outcome": _n("结果", "outcome"),
    "chosen": _n("事先选定", "chosen in advance"),
    "qini": _n("Qini 系数", "Qini coefficient"),
    "auuc": _n("AUUC", "AUUC"),
    "uplift_at_k": _n("前30%实测增量", "uplift@30%"),
    "listed": _n("名单人数", "listed"),
    "ordered_recently": _n("冷却期内下过单", "ordered within the cool-down"),
    "messaged_recently": _n("冷却期内收到过消息", "messaged within the cool-down"),
    "median_days_since_last_order": _n("距上次下单天数（中位数）", "median days since last order"),
    "persuadable_share": _n("植入的“可说服”客户占比", "planted persuadable share"),
    "stage": _n("筛选步骤", "step"),
    "left": _n("剩余人数", "contacts left"),
    "action": _n("建议动作", "suggested action"),
    "why_now": _n("为什么现在联系", "why now"),
    "why": _n("原因", "why"),
    "uplift_order": _n("预测下单增量", "predicted order uplift"),
    "uplift_deletion": _n("预测删好友增量", "predicted deletion uplift"),
    "uplift_coupon": _n("预测优惠券下单增量", "predicted coupon uplift"),
    "days_since_last_order": _n("距上次下单天数", "days since last order"),
    # 07 staff
    "raw_rank": _n("未调整排名", "raw rank"),
    "adds": _n("新增", "adds"),
    "deletions": _n("删除", "deletions"),
    "net": _n("净增", "net"),
    "deletion_rate_7d": _n("7 天删除率", "7-day deletion"),
    "deletion_rate_30d": _n("30 天删除率", "30-day deletion"),
    "deletion_oe": _n("删除 O/E", "deletion O/E"),
    "relationship": _n("首次或再次添加", "first or later relationship"),
    "caused_per_1000": _n("每千次触达带来的首单（模拟真值）", "first orders caused per 1,000 touches (planted)"),
    "markov_per_1000": _n("马尔可夫：每千次触达分到的首单", "Markov: first orders credited per 1,000 touches"),
    "shapley_per_1000": _n("夏普利值：每千次触达分到的首单", "Shapley: first orders credited per 1,000 touches"),
    "deletion_oe_interval": _n("删除 O/E（区间）", "deletion O/E (interval)"),
    "lift_interval": _n("增量（实验 − 对照，区间）", "lift (treated − control, interval)"),
    "value_lift_interval": _n("人均成交额增量（区间）", "GMV lift per contact (interval)"),
    "conversion_oe_interval": _n("转化 O/E（区间）", "conversion O/E (interval)"),
    "deletion_oe_low": _n("删除 O/E 下限", "deletion O/E low"),
    "deletion_oe_high": _n("删除 O/E 上限", "deletion O/E high"),
    "conversion_rate": _n("首单转化率", "first-order conversion"),
    "conversion_oe": _n("转化 O/E", "conversion O/E"),
    "repurchase_rate": _n("复购率", "repurchase rate"),
    "value_90d": _n("90 天价值/新增", "90-day value per add"),
    "reply_rate": _n("回复率", "reply rate"),
    "median_reply_minutes": _n("首次回复中位数（分钟）", "median first reply (min)"),
    "execution_rate": _n("群发执行率", "broadcast execution"),
    "loss_days": _n("异常流失日", "loss days"),
    "questions": _n("客户提问", "questions"),
    "reply_rate_low": _n("回复率下限", "reply rate low"),
    "reply_rate_high": _n("回复率上限", "reply rate high"),
    "to_send": _n("应发群发", "sends due"),
    "execution_rate_low": _n("执行率下限", "execution low"),
    "execution_rate_high": _n("执行率上限", "execution high"),
    "expected": _n("期望值", "expected"),
    "bound": _n("上界", "bound"),
    "event_staff": _n("消息/群发中的员工", "staff id in chats / broadcasts"),
    "same_id": _n("同一 ID", "same id"),
    # exports of 06 and 07 (the staff workbook)
    "action_key": _n("动作代码", "action code"),
    "score_kind": _n("得分类型", "score kind"),
    "order_value": _n("预计客单价", "expected order value"),
    "due_score": _n("到期得分", "due score"),
    "days_since_last_message": _n("距上次消息天数", "days since last message"),
    "messages_this_month": _n("本月已发消息", "messages this month"),
    "deletion_rate_adjusted": _n("按渠道构成调整后的删除率", "deletion rate, mix-adjusted"),
    "deletion_expected": _n("预期删除数", "expected deletions"),
    "deletion_observed": _n("实际删除数", "observed deletions"),
    "adds_observed_30d": _n("满 30 天的新增", "adds followed 30 days"),
    "new_adds": _n("新客新增", "adds of new customers"),
    "value_oe": _n("价值 O/E", "value O/E"),
    "raw_score": _n("未调整得分", "raw score"),
    # 08 summary
    "removals": _n("删除", "removals"),
    "net_adds": _n("净增", "net adds"),
    "spend": _n("投放花费", "spend"),
    "eligible": _n("转化窗口已结束的新增", "adds with a closed window"),
    "conversion": _n("首单转化率（窗口内）", "first-order conversion (in window)"),
    "adds_change": _n("新增较上期", "adds vs previous period"),
    "tier_contacts": _n("人数", "contacts"),
    "share_of_contacts": _n("人数占比", "share of contacts"),
    "share_of_gmv": _n("净成交额占比", "share of net GMV"),
}


# ------------------------------------------------------------------------------------------------ formatting
def _missing(x: object) -> bool:
    try:
        return x is None or (isinstance(x, float) and math.isnan(x)) or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_int(x: float | None) -> str:
    """Format a whole number with thousands separators ("—" when missing).

    Examples
    --------
    >>> fmt_int(19775), fmt_int(-3.0), fmt_int(float("nan"))
    ('19,775', '-3', '—')
    """
    return "—" if _missing(x) else f"{round(float(x)):,}"


def fmt_pct(x: float | None, digits: int = 1, sign: bool = False) -> str:
    """Format a share as a percentage (``0.0534`` → ``5.3%``); never ``-0.0%``.

    Examples
    --------
    >>> fmt_pct(0.0534), fmt_pct(-0.00001), fmt_pct(0.12, sign=True)
    ('5.3%', '0.0%', '+12.0%')
    """
    if _missing(x):
        return "—"
    v = round(float(x) * 100, digits)
    v = 0.0 if v == 0 else v
    return f"{v:+.{digits}f}%" if sign else f"{v:.{digits}f}%"


def fmt_pp(x: float | None, lang: str = "zh", digits: int = 1) -> str:
    """Format a rate's change in percentage points (``0.004`` → ``+0.4 个百分点`` / ``+0.4 pp``), never "0.4%".

    Examples
    --------
    >>> fmt_pp(0.004), fmt_pp(-0.012, "en"), fmt_pp(0.0)
    ('+0.4 个百分点', '-1.2 pp', '0.0 个百分点')
    """
    if _missing(x):
        return "—"
    v = round(float(x) * 100, digits)
    v = 0.0 if v == 0 else v
    unit = " 个百分点" if lang == "zh" else " pp"
    return (f"{v:+.{digits}f}" if v else f"{v:.{digits}f}") + unit


def fmt_money(x: float | None, currency: str = "¥", digits: int = 0, sign: bool = False) -> str:
    """Format money with the sign before the currency (``-26899`` → ``-¥26,899``), thousands separators.

    Examples
    --------
    >>> fmt_money(11244.528854), fmt_money(-26899, sign=True), fmt_money(3.5, "£", 2)
    ('¥11,245', '-¥26,899', '£3.50')
    """
    if _missing(x):
        return "—"
    v = round(float(x), digits)
    v = 0.0 if v == 0 else v
    s = "-" if v < 0 else ("+" if sign and v > 0 else "")
    return f"{s}{currency}{abs(v):,.{digits}f}"


def fmt_p(p: float | None) -> str:
    """Format a p-value as a reader wants it: ``< 0.001`` below a thousandth, else three decimals.

    Examples
    --------
    >>> fmt_p(9.111584e-60), fmt_p(0.0312), fmt_p(0.97)
    ('< 0.001', '0.031', '0.970')
    """
    if _missing(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_change(
    delta: float | None, *, good_up: bool | None = True, kind: str = "int", lang: str = "zh", currency: str = "¥"
) -> str:
    """Return a change with an arrow, as HTML coloured by whether the direction is good.

    ``kind`` is ``int``, ``money``, ``pp`` (a rate's change, in percentage points) or ``pct``. Green is good,
    red is bad (``good_up=None``: grey, no judgement).

    Examples
    --------
    >>> fmt_change(-0.019, good_up=False, kind="pp", lang="en")
    '<span style="color:#1a7f37">▼ -1.9 pp</span>'
    """
    if _missing(delta):
        return "—"
    text = {
        "int": lambda d: f"{round(d):+,}",
        "money": lambda d: fmt_money(d, currency, sign=True),
        "pp": lambda d: fmt_pp(d, lang),
        "pct": lambda d: fmt_pct(d, sign=True),
        "number": lambda d: f"{d:+,.2f}",
    }[kind](float(delta))
    if float(delta) == 0 or good_up is None:
        return f'<span style="color:#666">{"■" if float(delta) == 0 else ""} {text}</span>'.replace("> ", ">")
    up = float(delta) > 0
    color = "#1a7f37" if up == good_up else "#cf222e"
    return f'<span style="color:{color}">{"▲" if up else "▼"} {text}</span>'


#: The number formats :meth:`Labels.show` knows (``formats=``).
SHOW_FORMATS = {"int", "money", "rate", "pp", "p", "number", "text"}

_BILINGUAL = re.compile(r"^([\u3000-\u9fff][^a-zA-Z]*?)\s+([A-Za-z].*)$|^([A-Za-z].*?)\s+([\u3000-\u9fff].*)$")


def bilingual_part(text: str, lang: str) -> str:
    """Return the part of a "中文 English" (or "English 中文") label in the report language.

    Examples
    --------
    >>> bilingual_part("高价值 high value", "zh"), bilingual_part("高价值 high value", "en")
    ('高价值', 'high value')
    >>> bilingual_part("B beats A 胜出", "zh")
    '胜出'
    """
    m = _BILINGUAL.match(str(text))
    if not m:
        return str(text)
    if m.group(1):
        return m.group(1).strip() if lang == "zh" else m.group(2).strip()
    return m.group(4).strip() if lang == "zh" else m.group(3).strip()


# ------------------------------------------------------------------------------------------------ user names
def read_names(path: str | Path | None) -> dict[str, dict[str, dict[str, str]]]:
    """Read a team's names file: CSV with columns ``kind, code, zh, en`` (``en`` may be empty: zh is used).

    ``kind`` is one of the kinds of :data:`NAMES` (``channel``, ``touch_type``, ``campaign``, ``group`` …) — any
    kind is accepted, so group ids and campaign ids can be named too.

    Returns
    -------
    dict
        kind → code → {"zh": …, "en": …}; empty without a file.
    """
    if not path:
        return {}
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig").fillna("")
    missing = {"kind", "code", "zh"} - set(df.columns)
    if missing:
        raise ValueError(
            f"{Path(path).name}: a names file needs the columns kind, code, zh (and en); missing "
            f"{', '.join(sorted(missing))}"
        )
    out: dict[str, dict[str, dict[str, str]]] = {}
    for r in df.itertuples(index=False):
        en = getattr(r, "en", "") or r.zh
        out.setdefault(r.kind.strip(), {})[r.code.strip()] = {"zh": r.zh.strip(), "en": en.strip()}
    return out


def run_names(folder: str | Path) -> dict[str, dict[str, dict[str, str]]]:
    """Return the team's names a run kept (``names.csv`` in its output folder, written by 00); empty without one."""
    path = Path(folder) / "names.csv"
    return read_names(path if path.exists() else None)


_DOLLAR_AMOUNT = re.compile(r"(?<!\\)\$(?=\d)")


def literal_dollars(text: str) -> str:
    r"""Escape the dollar sign of every amount (``$65,004``) so Markdown shows it as a sign, not as a formula.

    A run with ``currency: $`` writes sentences such as "净成交额 $65,004 → $70,191": Markdown in JupyterLab and on the
    pages would take the text between two dollar signs for a formula. A dollar sign before a digit is an amount in
    the helpers' sentences (their formulas never start with a digit); one already escaped is left alone.

    Examples
    --------
    >>> literal_dollars("$65,004 → $70,191, $x$, \\$5")
    '\\$65,004 → \\$70,191, $x$, \\$5'
    """
    return _DOLLAR_AMOUNT.sub(r"\\$", text)


_FIGURE = re.compile(r"^[+\-−]?[¥$€£]?[+\-−]?[\d,]+(\.\d+)?%?$")


def _figures(values: pd.Series) -> bool:
    """Whether a text column holds only formatted figures (``¥1,843``, ``14.29``, ``8.9%``): aligned right, as numbers.

    >>> _figures(pd.Series(["¥1,843", "14.29", "—", None])), _figures(pd.Series(["高价值", "3"]))
    (True, False)
    """
    shown = [v for v in values if isinstance(v, str) and v != "—"]
    return bool(shown) and all(_FIGURE.match(v) for v in shown)


class Labels:
    """Display text in one report language, with a team's own names on top of the package's.

    Parameters
    ----------
    lang : {"zh", "en"}
        The report language.
    names : mapping, optional
        Extra names (:func:`read_names`), overriding the package's for the same kind and code.
    currency : str
        Currency symbol for money columns.

    Examples
    --------
    >>> L = Labels("zh")
    >>> L.name("touch_type", "group_broadcast"), L.name("channel", "my_own_code"), L.header("net_gmv")
    ('社群群发', 'my_own_code', '净成交额')
    >>> Labels("en").name("tier", "高价值 high value")
    'high value'
    """

    def __init__(self, lang: str = "zh", names: Mapping | None = None, currency: str = "¥") -> None:
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
        self.lang = lang
        self.currency = currency
        self.names = {k: dict(v) for k, v in NAMES.items()}
        for kind, codes in (names or {}).items():
            self.names.setdefault(kind, {}).update(codes)

    def name(self, kind: str, code: object) -> str:
        """Return the display name of a code (the code itself when it has none; bilingual labels keep their half)."""
        if _missing(code):
            return "—"
        if kind == "column":
            return self.header(code)
        entry = self.names.get(kind, {}).get(str(code))
        if entry is not None:
            return entry[self.lang]
        return bilingual_part(str(code), self.lang)

    def header(self, column: object) -> str:
        """Return the display header of a column name (the name with underscores as spaces when unknown)."""
        col = str(column)
        if col in HEADERS:
            return HEADERS[col][self.lang]
        return bilingual_part(col, self.lang)

    def text(self, catalog: Mapping[str, Mapping[str, str]], key: str, **values: object) -> str:
        """Return a sentence from a template catalog (``{key: {"zh": "…{x}…", "en": …}}``) filled with results.

        A yes/no result (``bool``, numpy's too) is written as 是 / 否 (yes / no), never as Python's ``True``.

        Examples
        --------
        >>> Labels("zh").text({"k": {"zh": "一致：{ok}", "en": "same: {ok}"}}, "k", ok=np.bool_(True))
        '一致：是'
        """
        shown = {k: self.yes_no(v) if isinstance(v, bool | np.bool_) else v for k, v in values.items()}
        return catalog[key][self.lang].format(**shown)

    def yes_no(self, flag: object) -> str:
        """Return 是 / 否 (yes / no) for a yes/no result.

        Examples
        --------
        >>> Labels("zh").yes_no(1 > 0), Labels("en").yes_no(False)
        ('是', 'no')
        """
        return {"zh": ("是", "否"), "en": ("yes", "no")}[self.lang][0 if bool(flag) else 1]

    def markdown(self, text: str):
        r"""Return a result sentence as Markdown for ``display``, its amounts' dollar signs kept as signs.

        ``display(L.markdown(sentence))`` instead of ``display(Markdown(sentence))``: with ``currency: $`` JupyterLab
        would otherwise set the text between two amounts as a formula (:func:`literal_dollars`).

        Examples
        --------
        >>> Labels("en", currency="$").markdown("$65,004 → $70,191").data
        '\\$65,004 → \\$70,191'
        """
        from IPython.display import Markdown

        return Markdown(literal_dollars(text))

    def pick(self, zh: str, en: str) -> str:
        """Return whichever of two texts is in the report language (for a one-off sentence in a notebook)."""
        return zh if self.lang == "zh" else en

    def names_of(self, kind: str, codes: Iterable[object]) -> list[str]:
        """Return the display names of several codes."""
        return [self.name(kind, c) for c in codes]

    def translate(
        self,
        frame: pd.DataFrame,
        kinds: Mapping[str, str] | None = None,
        index_kind: str | None = None,
        columns_kind: str | None = None,
    ) -> pd.DataFrame:
        """Return ``frame`` with translated headers and display names in the columns named in ``kinds``.

        Parameters
        ----------
        kinds : mapping, optional
            Column → kind of its values (default: every column named like a kind, e.g. ``channel``, ``tier``, and
            ``staff_id`` as ``staff``).
        index_kind, columns_kind : str, optional
            Kind of the index values / of the column labels (for pivoted tables).
        """
        out = frame.copy()
        kinds = dict(kinds or {c: c for c in out.columns if c in self.names})
        if "staff_id" in out.columns:  # staff by the names the team gave (else their pseudonyms), whatever else
            kinds.setdefault("staff_id", "staff")
        for col, kind in kinds.items():
            if col in out.columns:
                out[col] = out[col].map(lambda v, k=kind: self.name(k, v))
        if index_kind:
            out.index = [self.name(index_kind, v) for v in out.index]
        elif out.index.name is not None:
            if out.index.name in self.names:
                out.index = pd.Index([self.name(out.index.name, v) for v in out.index], name=out.index.name)
            out.index.name = self.header(out.index.name)
        if columns_kind:
            out.columns = [self.name(columns_kind, c) for c in out.columns]
        else:
            out.columns = [self.header(c) for c in out.columns]
        return out

    def show(
        self,
        frame: pd.DataFrame,
        *,
        kinds: Mapping[str, str] | None = None,
        formats: Mapping[str, str] | None = None,
        index_kind: str | None = None,
        columns_kind: str | None = None,
        hide_index: bool | None = None,
    ):
        """Return a table ready for a page: translated headers and names, formatted numbers, missing as "—".

        Number formats follow the column (see :func:`helpers.exports.column_kind`): ids as text, counts with
        thousands separators, money with the currency, rates as percentages, other numbers with at most two
        decimals, p-values as ``< 0.001``. A column listed in ``frame.attrs["not_measured"]`` shows *not measured*.

        Parameters
        ----------
        formats : mapping, optional
            Column → ``int``, ``money``, ``rate``, ``pp``, ``p``, ``number``, ``text``: overrides the guess.

        Returns
        -------
        pandas.io.formats.style.Styler or IPython.display.Markdown
            A table without rows is not drawn as a row of headers over nothing: it shows "（无记录）" / "(no rows)".
        """
        from helpers.exports import column_kind

        unknown = {f for f in (formats or {}).values()} - SHOW_FORMATS
        if unknown:
            raise ValueError(f"unknown format(s) {sorted(unknown)}: use one of {sorted(SHOW_FORMATS)}")
        if len(frame) == 0:
            from IPython.display import Markdown

            return Markdown(self.pick("*（无记录）*", "*(no rows)*"))
        raw = frame
        kinds_of = {
            c: (formats or {}).get(c)
            or (
                "p"
                if str(c).startswith("p_value") or str(c).endswith("_p_value") or str(c) == "p_adjusted"
                else column_kind(str(c), raw[c])
            )
            for c in raw.columns
        }
        shown = self.translate(raw, kinds=kinds, index_kind=index_kind, columns_kind=columns_kind)
        nm = raw.attrs.get("not_measured", {})
        fmts = {}
        for c, new in zip(raw.columns, shown.columns, strict=True):
            k = kinds_of[c]
            missing = NOT_MEASURED[self.lang] if c in nm else "—"
            fmts[new] = self._formatter(k, missing, _money_digits(raw[c]) if k == "money" else None)
        if hide_index is None:
            hide_index = isinstance(raw.index, pd.RangeIndex)
        styler = shown.style.format(fmts)
        styles = {}
        for c, new in zip(raw.columns, shown.columns, strict=True):
            longest = raw[c].map(lambda v: len(v) if isinstance(v, str) else 0).max() if raw[c].dtype == object else 0
            if longest > 16:  # sentences in a cell (notes, reasons): wide enough to read, header and text left
                styles[new] = [{"selector": "", "props": "min-width:18em;text-align:left"}]
            else:  # a name, an id or a number is read whole: 高价值 on one line, not 高价 / 值 (the table scrolls)
                styles[new] = [{"selector": "td", "props": "white-space:nowrap"}]  # a header may wrap at （
                if kinds_of[c] in ("id", "text") and raw[c].dtype == object and not _figures(raw[c]):
                    styles[new].append({"selector": "", "props": "text-align:left"})  # figures stay right
        styler = styler.set_table_styles(styles, overwrite=False)
        return styler.hide(axis="index") if hide_index else styler

    def _formatter(self, kind: str, missing: str, digits: int | None = None):
        cur = self.currency

        def f(v):
            if _missing(v):
                return missing
            if isinstance(v, (bool, np.bool_)):
                return NAMES["yes_no"][str(bool(v))][self.lang]
            if kind == "int":
                return fmt_int(v)
            if kind == "money":
                return fmt_money(v, cur, digits if digits is not None else (0 if abs(float(v)) >= 100 else 2))
            if kind == "rate":
                return fmt_pct(v)
            if kind == "pp":
                return fmt_pp(v, self.lang)
            if kind == "p":
                return fmt_p(v)
            if kind == "number":
                return f"{float(v):,.2f}" if abs(float(v)) < 1000 else f"{float(v):,.0f}"
            if kind in ("date", "datetime") and isinstance(v, pd.Timestamp):
                return f"{v:%Y-%m-%d}" if kind == "date" else f"{v:%Y-%m-%d %H:%M}"
            return str(v)

        return f


def _money_digits(column: pd.Series) -> int:
    """Decimals for a money column on a page, the same for every row: none when any amount reaches 100, else two.

    Deciding per cell put ``£0.00`` under ``£7,024,119`` in one column.

    Examples
    --------
    >>> [_money_digits(pd.Series(v)) for v in ([7_024_119.0, 0.0], [12.5, None], [None])]
    [0, 2, 2]
    """
    top = pd.to_numeric(column, errors="coerce").abs().max()
    return 0 if pd.notna(top) and top >= 100 else 2


def labels_for(lang: str, labels: Labels | None = None) -> Labels:
    """Return ``labels`` when a page passed its own (with the team's names), else the package's labels in ``lang``."""
    return labels if labels is not None else Labels(lang)
