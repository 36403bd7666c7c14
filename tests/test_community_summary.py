"""Community activity and the summary's revenue decomposition."""

from __future__ import annotations

import itertools

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import community
from helpers import summary as sm
from helpers.labels import Labels


def test_group_summary_by_hand():
    msgs = pd.DataFrame(
        {
            "group_id": ["g"] * 6 + ["h"],
            "user_id": ["a", "a", "b", "c", "a", "b", "z"],
            "sent_at": pd.to_datetime(
                [
                    "2025-01-01 09:00",
                    "2025-01-01 21:00",
                    "2025-01-02 12:00",
                    "2025-01-03 08:00",
                    "2025-01-09 10:00",
                    "2025-01-10 10:00",
                    "2025-01-05 10:00",
                ]
            ),
        }
    )
    s, daily = community.group_summary(ibis.memtable(msgs), "2025-01-01", "2025-01-10", silent_days=7)
    d = daily[daily["group_id"] == "g"].set_index("day")
    # day 1: a active, members {a}; day 2: b active, members {a,b}; day 3: c, {a,b,c}; days 4-8: none; 9: a; 10: b
    expected = [1 / 1, 1 / 2, 1 / 3, 0, 0, 0, 0, 0, 1 / 3, 1 / 3]
    assert np.allclose(d["active_ratio"].to_numpy(), expected)
    g = s.loc["g"]
    assert g["members"] == 3 and g["messages"] == 6 and g["messages_per_member"] == 2
    assert g["mean_active_ratio"] == pytest.approx(np.mean(expected))
    assert g["silent_share"] == pytest.approx(1 / 3)  # c's last message is 7 days before the end
    assert g["top10_share"] == pytest.approx(3 / 6)  # a sent 3 of 6
    assert s.loc["h", "members"] == 1


def test_hour_weekday_and_best_hours():
    msgs = pd.DataFrame(
        {
            "group_id": "g",
            "user_id": "u",
            "sent_at": pd.to_datetime(["2025-01-06 21:10", "2025-01-06 21:40", "2025-01-07 12:00", "2025-01-12 21:00"]),
        }
    )  # Mon, Mon, Tue, Sun
    grid = community.hour_weekday(ibis.memtable(msgs), "2025-01-01", "2025-01-31")
    assert grid.loc["Mon 周一", 21] == 2 and grid.loc["Sun 周日", 21] == 1 and grid.loc["Tue 周二", 12] == 1
    assert grid.to_numpy().sum() == 4
    best = community.best_hours(grid, 2)
    assert best["hour"].tolist() == [21, 12] and best["share"].iloc[0] == 0.75


def test_push_hours_and_crowding_by_hand():
    """Our pushes by hour, counted in the engine, and their crowding against members' hours (issue 20's 05 trap)."""
    from helpers.labels import Labels

    touches = pd.DataFrame(
        {
            "user_id": list("abcdef"),
            "touched_at": pd.to_datetime(
                [
                    "2025-01-06 21:05",
                    "2025-01-06 21:05",
                    "2025-01-07 21:30",
                    "2025-01-07 10:00",
                    "2025-01-08 10:00",
                    "2025-02-09 21:00",
                ]  # the last one is after the window
            ),
            "touch_type": [
                "group_broadcast",
                "group_broadcast",
                "livestream",
                "group_broadcast",
                "private_chat",
                "group_broadcast",
            ],
            "campaign_id": None,
        }
    )
    pushes = community.push_hours(ibis.memtable(touches), "2025-01-01", "2025-01-31")
    assert list(pushes.columns) == ["group_broadcast", "livestream"]  # a 1:1 chat is not a push
    assert pushes.loc[21, "group_broadcast"] == 2 and pushes.loc[10, "group_broadcast"] == 1
    assert pushes.loc[21, "livestream"] == 1 and pushes.to_numpy().sum() == 4
    grid = pd.DataFrame(0, index=community.WEEKDAYS, columns=range(24))
    grid[21], grid[10], grid[9] = 10, 4, 4  # members: 70 at 21 h, 28 at 10 h and 9 h out of 126
    crowd = community.hour_crowding(grid, pushes)
    assert crowd.loc[21, "member_messages"] == pytest.approx(70 / (126 / 24))
    assert crowd.loc[21, "group_broadcast"] == pytest.approx(2 / (3 / 24))
    assert crowd.loc[21, "all_pushes"] == pytest.approx(3 / (4 / 24)) and crowd.loc[9, "all_pushes"] == 0
    assert community.quiet_busy_hour(crowd) == 9  # as busy as 10 h for members, none of our pushes
    text = community.crowding_text(crowd, [21, 10, 9], Labels("zh"))
    assert "21 点" in text and "社群群发 16.0 倍" in text and "直播 24.0 倍" in text and "是 9 点" in text
    empty = community.hour_crowding(grid, pushes.iloc[:, :0])
    assert empty["all_pushes"].isna().all() and community.quiet_busy_hour(empty) is None


def test_decomposition_adds_up_exactly_and_is_fair():
    rng = np.random.default_rng(0)
    for _ in range(50):
        b = dict(zip(sm.FACTORS, rng.uniform(0.1, 1000, 4), strict=True))
        a = dict(zip(sm.FACTORS, rng.uniform(0.1, 1000, 4), strict=True))
        delta = np.prod(list(a.values())) - np.prod(list(b.values()))
        for method in ("shapley", "lmdi"):
            c = sm.decompose(b, a, method=method)
            assert c.sum() == pytest.approx(delta, rel=1e-12, abs=1e-9)
    # only one factor moves: it gets all of the change
    c = sm.decompose(
        {"traffic": 100, "conversion": 0.1, "aov": 200, "frequency": 1.5},
        {"traffic": 100, "conversion": 0.12, "aov": 200, "frequency": 1.5},
    )
    assert c["conversion"] == pytest.approx(100 * 0.02 * 200 * 1.5) and (c.drop("conversion") == 0).all()


def test_shapley_decomposition_equals_the_permutation_average():
    b = {"x": 2.0, "y": 3.0, "z": 5.0}
    a = {"x": 4.0, "y": 1.0, "z": 6.0}
    perms = list(itertools.permutations(b))
    avg = dict.fromkeys(b, 0.0)
    for order in perms:
        cur = dict(b)
        for k in order:
            before = np.prod(list(cur.values()))
            cur[k] = a[k]
            avg[k] += (np.prod(list(cur.values())) - before) / len(perms)
    c = sm.decompose(b, a)
    for k in b:
        assert c[k] == pytest.approx(avg[k])
    with pytest.raises(ValueError, match="positive"):
        sm.decompose({"x": 0.0}, {"x": 1.0}, method="lmdi")


def test_period_kpis_identity_and_waterfall():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "added_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-02-10", "2025-02-20"]),
            "removed_at": pd.to_datetime([None, "2025-02-15", None, None]),
        }
    )
    sales = pd.DataFrame(
        {
            "user_id": ["a", "c", "x", "d"],
            "gross": [320.0, 50.0, 999.0, 80.0],
            "refunds": [20.0, 0.0, 0.0, 80.0],  # d's only order was refunded in full: no buyer, but net counts it
            "net": [300.0, 50.0, 999.0, 0.0],
            "purchase_days": [2, 1, 1, 0],
            "orders": [3, 1, 5, 0],
        }
    )
    k = sm.period_kpis(contacts, sales, "2025-02-01", "2025-02-28")
    assert (k["traffic"], k["adds"], k["removals"], k["contacts_end"]) == (4, 2, 1, 3)
    assert k["deletion_rate"] == pytest.approx(1 / 4)
    assert k["buyers"] == 2 and k["gmv"] == 350.0  # x is not a contact
    assert (k["gross_gmv"], k["refunds"]) == (450.0, 100.0)
    assert k["traffic"] * k["conversion"] * k["aov"] * k["frequency"] == pytest.approx(k["gmv"])
    assert k["repurchase_rate"] == 0.5
    unmeasured = sm.period_kpis(contacts.assign(removed_at=pd.NaT), sales, "2025-02-01", "2025-02-28")
    assert all(np.isnan(unmeasured[m]) for m in ("removals", "net_adds", "deletion_rate"))
    assert not unmeasured["removals_measured"] and unmeasured["adds"] == 2
    import matplotlib

    matplotlib.use("Agg")
    ax = sm.plot_waterfall(300.0, pd.Series({"traffic": 30.0, "aov": -10.0}), 320.0)
    assert ax.get_title() and len(ax.patches) == 4
    # a zoomed axis says so in its label, not in a note over the first bar; one from 0 says nothing
    assert ax.get_ylim()[0] > 0 and "纵轴未从 0 开始" in ax.get_ylabel() and not ax.texts[4:]
    wide = sm.plot_waterfall(100.0, pd.Series({"traffic": 200.0}), 300.0)
    assert wide.get_ylim()[0] == 0 and "纵轴" not in wide.get_ylabel()


def test_friend_counts_without_removal_times_are_bounds_shown_uncoloured():
    """No removal times: friend counts are upper bounds and conversion a lower bound; their rise is not 'good'."""
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "added_at": pd.to_datetime(["2025-01-05", "2025-02-10", "2025-02-20"]),
            "removed_at": pd.to_datetime([None, "2025-02-15", None]),
        }
    )
    sales = pd.DataFrame({"user_id": ["a", "c"], "gross": [30.0, 50.0], "refunds": [0.0, 0.0], "net": [30.0, 50.0]})
    sales = sales.assign(purchase_days=1, orders=1)

    def frame(c):
        kpis = {
            "previous": sm.period_kpis(c, sales.iloc[:0], "2025-01-01", "2025-01-31"),
            "current": sm.period_kpis(c, sales, "2025-02-01", "2025-02-28"),
        }
        return sm.kpi_frame(kpis, "¥", "zh")

    measured, unmeasured = frame(contacts), frame(contacts.assign(removed_at=pd.NaT))
    assert measured.loc["traffic", "good"] == 1.0 and "上限" not in measured.loc["traffic", "kpi"]
    for key in ("traffic", "contacts_end", "conversion"):
        assert np.isnan(unmeasured.loc[key, "good"]), key
        assert ("下限" if key == "conversion" else "上限") in unmeasured.loc[key, "kpi"]
    assert unmeasured.loc["adds", "good"] == 1.0  # adds are measured either way
    assert (measured.loc["removals", "current"], unmeasured.loc["removals", "current"]) == ("1", "未测量")


def _report_folder(tmp_path):
    """A report folder with every artifact summary.actions reads."""
    import json

    (tmp_path / "artifacts").mkdir()
    (tmp_path / "exports").mkdir()
    (tmp_path / "quality").mkdir()
    (tmp_path / "artifacts" / "targeting.json").write_text(
        json.dumps({"listed": 200, "leave_alone": 37, "score_kind": "incremental_value"}), encoding="utf-8"
    )
    pd.DataFrame({"user_id": ["u1", "u2", "u3"], "action_key": ["private_chat", "private_chat", "coupon"]}).to_csv(
        tmp_path / "exports" / "contact_list.csv", index=False, encoding="utf-8-sig"
    )
    staff = [
        {"staff_id": "S_a1", "deletion_oe": 1.8, "deletion_oe_low": 1.3, "deletion_oe_high": 2.4},
        {"staff_id": "S_b2", "deletion_oe": 1.1, "deletion_oe_low": 0.8, "deletion_oe_high": 1.5},
    ]
    (tmp_path / "artifacts" / "staff.json").write_text(
        json.dumps({"measured": {"removals": True}, "staff": staff}), encoding="utf-8"
    )
    pd.DataFrame({"channel": ["ads", "referral"], "value_upper": [40.0, 300.0]}).to_csv(
        tmp_path / "artifacts" / "new_contact_value.csv", index=False
    )
    pd.DataFrame({"campaign_id": ["c1", "c2"], "name": ["双11", "会员日"], "roas": [0.6, 2.0]}).to_csv(
        tmp_path / "artifacts" / "campaigns.csv", index=False
    )
    accounting = pd.DataFrame({"table": ["orders"], "quarantined": [12]})
    accounting.to_csv(tmp_path / "quality" / "accounting.csv", index=False)
    return tmp_path


def test_actions_say_only_what_the_artifacts_measured(tmp_path):
    """Each action comes from its artifact, with its figures; absent artifacts give no action."""
    folder = _report_folder(tmp_path)
    channels = pd.DataFrame({"cac": [55.0, 20.0]}, index=["ads", "referral"])
    zh = sm.actions(folder, channels, [20, 21], lang="zh")
    assert list(zh["owner"]) == ["导购", "私域运营主管", "投放负责人", "活动负责人", "社群运营", "数据负责人"]
    text = "\n".join(zh["action"])
    assert "联系名单上的 200 位客户（按随机对照测出的增量排序；私聊 2 位" in text
    assert "37 位暂不打扰" in text and "[员工工作簿](exports/workbook.xlsx)的“联系名单”和“暂不打扰”表" in text
    assert "S_a1" in text and "1.80 倍（95% 区间 1.30–2.40）" in text and "S_b2" not in text
    assert "价值上限 ¥40 仍低于本期获客成本 ¥55.00" in text and "referral" not in text.lower()
    assert "1 个活动 ROAS 低于 1" in text and "双11" in text and "会员日" not in text
    assert "20:00、21:00" in text and "被隔离的 12 行" in text
    en = "\n".join(sm.actions(folder, channels, [20], lang="en")["action"])
    assert "Contact the 200 customers" in en and "2 private chats" in en and "leave 37 alone" in en
    assert "(ads" not in en and "1.80× as often" in en and "Fix the 12 quarantined rows" in en
    empty = sm.actions(tmp_path / "nothing", None, None, lang="zh")
    assert empty.empty and list(empty.columns) == ["owner", "action"]


def test_actions_name_staff_and_channels_as_the_teams_names_file_does(tmp_path):
    """08's actions read the names 00 kept (``names.csv``): "和 导购07 复盘", not "和 pii_… 复盘"."""
    folder = _report_folder(tmp_path)
    (folder / "names.csv").write_text(
        "kind,code,zh,en\nstaff,S_a1,导购07,Clerk 7\nchannel,ads,朋友圈广告,Moments ads\n", encoding="utf-8-sig"
    )
    channels = pd.DataFrame({"cac": [55.0, 20.0]}, index=["ads", "referral"])
    zh = "\n".join(sm.actions(folder, channels, None, lang="zh")["action"])
    assert "和 导购07 复盘" in zh and "S_a1" not in zh and "朋友圈广告" in zh
    en = "\n".join(sm.actions(folder, channels, None, lang="en")["action"])
    assert "Review with Clerk 7" in en and "Moments ads" in en
    table = Labels("zh", {"staff": {"S_a1": {"zh": "导购07", "en": "Clerk 7"}}}).show(
        pd.DataFrame({"staff_id": ["S_a1"]})
    )
    assert "导购07" in table.to_html() and "S_a1" not in table.to_html()
    with_tier = Labels("zh", {"staff": {"S_a1": {"zh": "导购07", "en": "Clerk 7"}}}).show(
        pd.DataFrame({"staff_id": ["S_a1"], "tier": ["x"]}), kinds={"tier": "tier"}
    )
    assert "导购07" in with_tier.to_html()  # a table naming other kinds (06's contact list) names staff too


def test_a_leave_alone_list_without_a_randomised_test_is_not_measured_not_zero(tmp_path):
    """On an export without holdouts (Online Retail) 06 writes ``leave_alone: null``; 08 must not say "0 left alone"."""
    import json

    folder = _report_folder(tmp_path)
    (folder / "artifacts" / "targeting.json").write_text(
        json.dumps({"listed": 200, "leave_alone": None, "score_kind": "due"}), encoding="utf-8"
    )
    zh = "\n".join(sm.actions(folder, None, None, lang="zh")["action"])
    assert "“暂不打扰”未测量（没有随机对照）" in zh and "位暂不打扰" not in zh
    assert "（按“到期”得分排序，因为没有可用的随机对照；私聊 2 位，其余群发）" in zh  # one bracket, not two nested
    assert "“暂不打扰”表" not in zh and "的“联系名单”表" in zh  # no sheet that was not written
    en = "\n".join(sm.actions(folder, None, None, lang="en")["action"])
    assert "who to leave alone is not measured (no randomised test)" in en and "leave None" not in en
    assert "leave-alone sheet" not in en and "contact list sheet" in en


def test_a_refund_rise_from_one_customer_is_said_and_ranked_without_them():
    """Online Retail: one cancelled £168,470 order made 'refunds +315.8 %' the biggest risk; without it they fell."""
    base = {"deletion_rate": float("nan"), "net_adds": float("nan"), "conversion": 0.3, "gmv": 1000.0}
    prev = {**base, "refunds": 100.0, "top_refunds": 20.0}
    cur = {**base, "refunds": 500.0, "top_refunds": 450.0}
    factor = pd.Series({"traffic": 10.0, "conversion": 0.0, "aov": -80.0, "frequency": 5.0})
    zh = sm.risk_sentence({"previous": prev, "current": cur}, factor, "zh")
    assert zh.startswith("最大的风险：客单价") and "退款" not in zh  # the refund rise is one customer's: not the risk
    only = sm.risk_sentence({"previous": prev, "current": cur}, None, "en")
    assert only == (
        "The biggest risk: refunds rose 400.0% (one customer's refunds are 90.0% of them; -50.0% without that "
        "customer)."
    )
    spread = sm.risk_sentence({"previous": prev, "current": {**cur, "top_refunds": 60.0}}, factor, "zh")
    assert spread == "最大的风险：退款增加 400.0%。"  # spread over many customers: a trend, and the larger move


def test_refunds_an_export_does_not_record_are_not_measured_not_zero():
    """CDNOW's log has no refund status: 08 showed 退款 ¥0 → ¥0 and a headline 'refunds ¥0'. Without a single
    refunded order anywhere, refunds are not measured (the table shows 未测量) and the headline says why."""
    from helpers.definitions import refunds_measured

    assert not refunds_measured(pd.DataFrame({"status": ["paid"] * 3})) and refunds_measured(
        pd.DataFrame({"status": ["paid", "refunded"]})
    )
    contacts = pd.DataFrame({"user_id": ["a"], "added_at": pd.to_datetime(["2025-01-01"]), "removed_at": pd.NaT})
    sales = pd.DataFrame(
        {"user_id": ["a"], "gross": [100.0], "refunds": [0.0], "net": [100.0], "purchase_days": [1], "orders": [1]}
    )
    kpis = {
        p: sm.period_kpis(contacts, sales.assign(gross=g, net=g), lo, hi, refunds_measured=False)
        for p, g, lo, hi in (
            ("previous", 80.0, "2025-01-01", "2025-01-31"),
            ("current", 100.0, "2025-02-01", "2025-02-28"),
        )
    }
    assert np.isnan(kpis["current"]["refunds"]) and kpis["current"]["gmv"] == 100.0
    row = sm.kpi_frame(kpis, "$", "zh").loc["refunds"]
    assert row["previous"] == row["current"] == "未测量" and pd.isna(row["good"])
    zh, en = sm.headline(kpis, None, "", "$", "zh"), sm.headline(kpis, None, "", "$", "en")
    assert "退款未测量：导出里没有一笔退款" in zh and "退款 $0" not in zh and "¥" not in zh
    assert "refunds not measured: the export records no refund" in en
    measured = {p: sm.period_kpis(contacts, sales, "2025-02-01", "2025-02-28") for p in ("previous", "current")}
    assert "退款 $0）" in sm.headline(measured, None, "", "$", "zh")  # recorded, and none this period: a zero


def test_order_value_and_frequency_that_offset_are_said_as_one_move_of_spend_per_buyer():
    """Online Retail: order value -13.9 %, orders per buyer +14.6 %, net GMV +6.1 %; 08 called order value the largest
    driver and the biggest risk (-£149,790) without saying that frequency gave back nearly all of it."""
    base = {"deletion_rate": float("nan"), "net_adds": float("nan"), "conversion": 0.3, "refunds": 1.0}
    kpis = {
        "previous": {**base, "gmv": 965_862.0, "gross_gmv": 1_011_945.0},
        "current": {**base, "gmv": 1_024_637.0, "gross_gmv": 1_216_272.0},
    }
    c = pd.Series({"traffic": 10_000.0, "conversion": 62_780.0, "aov": -149_790.0, "frequency": 135_785.0})
    risk = sm.risk_sentence(kpis, c, "zh", "£")
    assert (
        risk == "最大的风险：人均消费（客单价 × 购买频次）的变化使净成交额少了 £14,005（相当于上期净成交额的 1.5%）。"
    )
    assert "被购买频次（+£135,785）抵消了大部分" in sm.headline(kpis, c, risk, "£", "zh")
    alone = pd.Series({"traffic": 10_000.0, "conversion": 62_780.0, "aov": -149_790.0, "frequency": 5_000.0})
    assert sm.risk_sentence(kpis, alone, "zh", "£").startswith("最大的风险：客单价的变化")  # not offset: order value
    assert "抵消" not in sm.headline(kpis, alone, "", "£", "zh")


def test_the_summary_names_campaigns_in_words_and_says_when_it_lists_only_the_lowest(tmp_path):
    """The sample's 08 read "12 个活动 ROAS 低于 1：" and five names (which five?), its table showed the codes
    (newbie_coupon_oct), the kind in English and the holdout's p-value as "0.0%"."""
    folder = _report_folder(tmp_path)
    roas = [0.9, 0.2, 0.5, 0.1, 0.7, 0.3, 2.0]
    pd.DataFrame(
        {"campaign_id": [f"c{i}" for i in range(7)], "name": [f"活动{i}" for i in range(7)], "roas": roas}
    ).to_csv(folder / "artifacts" / "campaigns.csv", index=False)
    zh = "\n".join(sm.actions(folder, None, None, lang="zh")["action"])
    assert "6 个活动 ROAS 低于 1（花的比带来的多）：最低的是 活动3、活动1、活动5、活动2、活动4 等" in zh
    camp = pd.DataFrame({"campaign_id": ["newbie_coupon_oct"], "name": ["新客首单券"], "kind": ["coupon"],
                         "cost": [11435.0], "attributed_gmv": [47488.05], "roas": [4.1529], "lift": [0.0768],
                         "lift_ci_low": [0.0436], "lift_ci_high": [0.106], "lift_p_value": [0.0]})  # fmt: skip
    html = Labels("zh").show(sm.campaign_table(camp, Labels("zh")), hide_index=False).to_html()
    assert "新客首单券" in html and "优惠券" in html and "newbie_coupon_oct" not in html and "coupon" not in html
    assert "campaign" not in html.split("<tbody>")[0].split("</style>")[-1]  # no slug in the headers either
    assert ">< 0.001<" in html and "0.0%" not in html and "+7.7 个百分点（+4.4 – +10.6）" in html


def test_group_trends_leave_out_a_week_the_export_covers_in_part_and_label_dates_in_chinese():
    """05's small multiples fell in their last point on every group: three days of a week drawn as a week."""
    import matplotlib

    matplotlib.use("Agg")
    days = pd.date_range("2025-01-06", "2025-03-05")  # a Monday to a Wednesday
    daily = pd.DataFrame({"group_id": "g1", "day": days, "messages": 10})
    fig = community.plot_group_trends(daily, ["g1"], ncols=1, lang="zh")
    ax = fig.axes[0]
    x = pd.to_datetime(ax.lines[0].get_xdata())
    assert x.max() == pd.Timestamp("2025-02-24") and (ax.lines[0].get_ydata() == 70).all()
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels and all(any(u in t for u in "年月日") for t in labels if t)


def test_topic_trends_leave_out_the_weeks_the_messages_cover_in_part():
    import matplotlib

    from helpers import topics

    matplotlib.use("Agg")
    sent = pd.date_range("2025-01-08", "2025-02-26", freq="6h")  # a Wednesday to a Wednesday
    weekly = topics.topic_weeks(np.zeros(len(sent), dtype=int), sent, 1)
    ax = topics.plot_topic_trends(weekly, lang="zh")
    x = pd.to_datetime(ax.lines[0].get_xdata())
    assert (x.min(), x.max()) == (pd.Timestamp("2025-01-13"), pd.Timestamp("2025-02-17"))
    assert (ax.lines[0].get_ydata() == 28).all()  # seven days of four messages: every week drawn is whole
