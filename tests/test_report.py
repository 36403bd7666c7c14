"""The runner: the report on the sample data, atomic publication, clear failures, no personal data in outputs."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers.params import ParamError
from helpers.run import NOTEBOOK_DIR, ReportError, load_params, run_report
from helpers.truth import printed_text, summary_counts

from .conftest import REPO, SAMPLE

pytestmark = pytest.mark.notebooks


def sample_params() -> dict:
    p = load_params(REPO / "params" / "default.yaml")["parameters"]
    return {**p, "data_dir": str(SAMPLE)}


@pytest.fixture(scope="module")
def report(sample_report) -> Path:
    return sample_report  # the session's one run on the sample (conftest): read-only here


def test_report_has_every_notebook_as_ipynb_and_html(report):
    for nb in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        assert (report / nb.name).exists()
        html = (report / nb.with_suffix(".html").name).read_text(encoding="utf-8")
        assert "<html" in html
    nb00 = nbformat.read(report / "00_data_prep.ipynb", as_version=4)
    errors = [o for c in nb00.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb00.cells if c.cell_type == "code" for o in c.get("outputs", []))
    tables = len(pd.read_csv(report / "quality" / "accounting.csv"))
    assert f"全部 {tables} 张表满足 读取 = 保留 + 隔离：是" in text
    assert "引擎 duckdb 读回的行数与保留行数完全一致" in text and "完全一致：True" not in text
    assert "练习" not in text  # a business report (teaching off) runs no exercises


def test_every_truth_check_in_every_notebook_passes(report):
    """Each notebook that compares with the planted truth reports every one of its checks passing."""
    with_checks = [
        nb.name
        for nb in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
        if "TruthChecks(" in "".join(c.source for c in nbformat.read(nb, as_version=4).cells)
    ]
    assert len(with_checks) >= 5
    for name in with_checks:
        found = summary_counts(printed_text(report / name))
        assert len(found) == 1, f"{name}: no truth-check summary"
        passed, total = found[0]
        assert passed == total and total > 0, f"{name}: only {passed} of {total} truth checks pass"


def test_no_python_booleans_or_check_keys_on_any_page(report):
    """Printed results say 是 / 否, never Python's True / False; truth tables show names, not check keys."""
    from helpers.truth import CHECKS

    for nb in sorted(report.glob("[0-9][0-9]_*.ipynb")):
        text = printed_text(nb)
        assert not re.search(r"\b(True|False)\b", text), (nb.name, re.findall(r".{0,60}\b(?:True|False)\b", text))
        html = (report / nb.name.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        shown = set(re.findall(r"<td[^>]*>\s*([A-Za-z_0-9]+)\s*</td>", html))
        assert not shown & {*CHECKS, "True", "False"}, (nb.name, shown & {*CHECKS, "True", "False"})
        # every table the notebook displays (the page leaves the truth tables to the notebook): no column slugs
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        tables = "".join("".join(o.get("data", {}).get("text/html", "")) for c in cells for o in c.get("outputs", []))
        heads = re.findall(r'<th[^>]*class="col_heading[^"]*"[^>]*>\s*([^<]*?)\s*</th>', tables)
        assert heads and not [h for h in heads if re.fullmatch(r"[a-z][a-z0-9_]{2,}", h)], (nb.name, heads)


def test_acquisition_notebook_checks(report):
    text = printed_text(report / "01_acquisition.ipynb")
    assert "每个渠道的获客成本都恰好等于 花费 ÷ 新增：是" in text
    assert "加好友率：对照 | B 胜过 A" in text
    assert "首单率：对照 | 无显著差异" in text
    assert "left" not in text and "parcel_card" not in text  # no code slugs in the printed results
    ch = pd.read_csv(report / "artifacts" / "channels.csv", encoding="utf-8-sig").set_index("channel")
    assert {"adds", "removals", "net_adds", "spend", "cac", "conversion", "cohort_conversion"} <= set(ch.columns)
    assert (ch["net_adds"] == ch["adds"] - ch["removals"]).all() and ch["conversion"].isna().all()  # windows open
    assert ch["cohort_conversion"].between(0, 1).all()


def test_user_tiers_notebook_checks(report):
    text = printed_text(report / "02_user_tiers.ipynb")
    assert summary_counts(text) == [(8, 8)]
    found = re.findall(r"与模拟分层的调整兰德指数（ARI）：全部好友 ([0-9.]+)，老买家 ([0-9.]+)", text)
    ari = [float(x) for x in found[0]]
    assert min(ari) >= 0.8
    assert "k = 3" in text and "20 次自助重抽样（bootstrap）的 ARI" in text
    assert re.search(r"前 20% 的买家（[0-9,]+ / [0-9,]+ 人）贡献了 (8[0-9]|9[0-9])\.[0-9]% 的净成交额", text)
    assert "new_tier_days" not in text and "high_value" not in text  # the parameter is new_days; tiers by name
    tier_list = pd.read_csv(report / "exports" / "tiers.csv", dtype={"user_id": str}, encoding="utf-8-sig")
    assert list(tier_list.columns[:3]) == ["user_id", "tier", "rfm_class"]
    assert tier_list["user_id"].is_unique and tier_list["tier"].notna().all()
    summary = nbformat.read(report / "08_summary.ipynb", as_version=4)
    tables = "".join(o.get("data", {}).get("text/html", "") for c in summary.cells for o in c.get("outputs", []))
    assert "流失风险" in tables  # the summary's tier table names the at-risk tier from 02's tiers


def test_repurchase_notebook_checks(report):
    text = printed_text(report / "03_repurchase.ipynb")
    checks = summary_counts(text)
    assert len(checks) == 1 and checks[0][0] == checks[0][1] >= 19, checks
    assert "留出期检验选择 BG/NBD" in text  # the planted process wins on the holdout
    assert "因此改用消费回归" in text  # Gamma-Gamma's independence fails on the sample: the fallback is used
    clv = pd.read_csv(report / "artifacts" / "clv.csv", dtype={"user_id": str}, encoding="utf-8-sig")
    assert {"user_id", "clv", "clv_lower", "clv_upper", "p_alive"} <= set(clv.columns)
    assert (clv["clv_lower"] <= clv["clv"] + 1e-6).all() and (clv["clv"] <= clv["clv_upper"] + 1e-6).all()
    value = pd.read_csv(report / "artifacts" / "new_contact_value.csv", encoding="utf-8-sig").set_index("channel")
    assert (value["value_lower"] <= value["value"]).all() and (value["value"] <= value["value_upper"]).all()


def test_attribution_notebook_checks(report):
    text = printed_text(report / "04_attribution.ipynb")
    assert summary_counts(text) == [(4, 4)]
    assert "16 个有成本的活动中，12 个 ROAS 低于 1" in text  # the monthly livestreams, named from the result
    assert "前 10% 的邀请人" in text and "被邀请好友" in text  # the top inviters' share, generated
    assert "group_broadcast" not in text and "live_2025_" not in text  # codes shown by their names
    camp = pd.read_csv(report / "artifacts" / "campaigns.csv", encoding="utf-8-sig").set_index("campaign_id")
    assert {"cost", "attributed_gmv", "roas", "lift", "lift_ci_low", "lift_ci_high"} <= set(camp.columns)
    held = camp.dropna(subset=["lift"])
    assert len(held) == 2 and (held["lift_ci_low"] <= held["lift"]).all()
    assert (held["lift"] <= held["lift_ci_high"]).all()
    assert (camp["roas"] < 1).sum() == 12


def test_community_notebook_checks(report):
    text = printed_text(report / "05_community.ipynb")
    assert summary_counts(text) == [(4, 4)]
    assert "手工核对（最活跃的群）：用原始消息重算的日均活跃率与表中一致：是" in text
    # the topic named as followed by purchases is the planted buying topic: its three words are that topic's words
    found = re.search(r"消息之后 7 天内购买率明显高于其他话题的：(\S+) / (\S+) / ([^（\s]+)（相关，不是因果）", text)
    planted = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))["chat"]
    assert found and set(found.groups()) <= set(planted["topics"][planted["purchase_topic"]]["words"])


def test_summary_html_hides_code_and_decomposes_exactly(report):
    html = (report / "08_summary.html").read_text(encoding="utf-8")
    assert "highlight hl-ipython3" not in html and "kpi_table" not in html  # no code cell is rendered
    assert "四个因素的贡献相加正好等于这个变化" in html and "：True" not in html
    assert "净成交额（成交 − 退款）" in html and "<img" in html  # the KPI table and the waterfall
    assert "最大的因素是" in html and "exports/contact_list.csv" in html  # the headline and an action with its file
    other = (report / "04_attribution.html").read_text(encoding="utf-8")
    assert "highlight hl-ipython3" in other  # the method notebooks keep their code for trainers


def test_minimal_data_runs_every_notebook(tmp_path):
    """Only the required tables, one channel, one script: every notebook runs and says what it skips."""
    from helpers.simulate import simulate

    raw = tmp_path / "raw"
    simulate(300, seed=11, out=raw)
    keep = tmp_path / "minimal"
    keep.mkdir()
    c = pd.read_parquet(raw / "contacts.parquet").assign(channel="store_qr", variant="A", referrer_id=None)
    c.to_parquet(keep / "contacts.parquet")
    pd.read_parquet(raw / "orders.parquet").to_parquet(keep / "orders.parquet")
    out = run_report(
        {**sample_params(), "data_dir": str(keep)},
        run_name="minimal",
        reports_dir=tmp_path / "r",
        quiet=True,
        html=False,
    )
    text = printed_text(out / "01_acquisition.ipynb")
    assert "没有线索表" in text and "少于两个话术" in text
    assert "获客成本与回本：未测量" in text
    assert "数据目录里没有 truth.json" in text
    text04 = printed_text(out / "04_attribution.ipynb")
    assert "没有带触达的转化路径" in text04 and "没有实验分组表" in text04
    assert "没有推荐人（邀请人）数据" in text04
    assert "没有群消息表" in printed_text(out / "05_community.ipynb")
    assert "写入 exports/tiers.csv" in printed_text(out / "02_user_tiers.ipynb")


def test_report_records_parameters_fingerprint_and_versions(report):
    rec = json.loads((report / "run.json").read_text())
    assert rec["parameters"]["as_of"] == "2026-01-01"
    assert rec["dates"]["calibration_end"] == {"value": "2025-09-30", "how": "given"}
    assert rec["dates"]["data_span"][0].startswith("2025-01-01") and rec["dates"]["warnings"] == []
    assert re.fullmatch(r"[0-9a-f]{64}", rec["data_fingerprint"])
    assert {"pandas", "ibis-framework", "duckdb", "papermill"} <= set(rec["versions"])
    assert "pii_salt" not in rec["parameters"]
    acc = pd.read_csv(report / "quality" / "accounting.csv")
    assert (acc["read"] == acc["kept"] + acc["quarantined"]).all()


def find_personal_data(text: str, phones: set[str], names: set[str], wechat: set[str] = frozenset()) -> str | None:
    """Return the first phone number, WeChat id or 3-character name of the given sets found in ``text``."""
    for m in re.finditer(r"\d{11}", text):
        if m.group(0) in phones:
            return m.group(0)
    for m in re.finditer(r"wxid_[0-9a-f]+", text):
        if m.group(0) in wechat:
            return m.group(0)
    for run in re.findall(r"[\u4e00-\u9fff]{3,}", text):
        for i in range(len(run) - 2):
            if run[i : i + 3] in names:
                return run[i : i + 3]
    return None


def test_personal_data_scan_can_fail():
    assert find_personal_data("call 13812345678 now", {"13812345678"}, set()) == "13812345678"
    assert find_personal_data("客户王小明下单", set(), {"王小明"}) == "王小明"
    assert find_personal_data("id wxid_00ab12cd34ef.", set(), set(), {"wxid_00ab12cd34ef"}) == "wxid_00ab12cd34ef"


def test_no_personal_data_in_any_report_file(report, pii_key_file):
    """The sample's planted phones, nicknames and WeChat ids, and any phone / wxid / e-mail / ID-card shape, appear in
    no output file of any kind; neither does the pseudonymisation key."""
    from helpers import privacy

    raw = pd.read_csv(SAMPLE / "contacts.csv", encoding="gb18030", skiprows=1, dtype=str)
    phones = set(raw["手机号"].dropna())
    names = {n for n in raw["昵称"].dropna() if len(n) == 3}
    wechat = set(raw["微信号"].dropna())
    staff = set(raw["员工ID"].dropna())  # the sample's staff ids are staff names
    personal_ids = {v for v in raw["用户ID"].dropna() if privacy.find_personal_data(v)}
    assert len(phones) > 10_000 and len(names) > 1_000 and len(wechat) > 10_000
    assert len(staff) >= 5 and len(personal_ids) >= 50  # ids that are phone numbers (any spelling) or WeChat ids
    key_text = pii_key_file.read_text().strip()
    scanned = 0
    for f in report.rglob("*"):
        if f.suffix in (".ipynb", ".html", ".csv", ".json", ".log", ".txt"):
            text = f.read_text(encoding="utf-8")
        elif f.suffix == ".parquet":
            text = pd.read_parquet(f).astype(str).to_csv(index=False)
        elif f.suffix == ".xlsx":
            text = "\n".join(df.to_csv(index=False) for df in pd.read_excel(f, sheet_name=None, dtype=str).values())
        else:
            continue
        hit = find_personal_data(text, phones, names, wechat)
        assert hit is None, f"{f.name} contains personal data {hit[:3]}…"
        assert not [n for n in staff | personal_ids if n in text], f"{f.name} contains a staff name or a personal id"
        assert not privacy.scan_file(f), f"{f.name}: {privacy.scan_file(f)[:1]}"
        assert key_text not in text
        scanned += 1
    assert scanned >= 10


def test_failed_run_names_notebook_and_keeps_last_good_report(report, tmp_path):
    report = Path(shutil.copytree(report, tmp_path / "reports" / report.name))  # the shared run stays untouched
    before = (report / "run.json").read_text()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "orders.csv").write_text("order_id,user_id,ordered_at,amount\n")
    with pytest.raises(ReportError) as err:
        run_report({**sample_params(), "data_dir": str(bad)}, run_name="sample", reports_dir=report.parent, quiet=True)
    msg = str(err.value)
    assert "00_data_prep.ipynb failed at cell" in msg and "DataContractError" in msg and "'contacts' not found" in msg
    assert (report / "run.json").read_text() == before
    kept = list(report.parent.glob(".failed-sample-*/00_data_prep.ipynb"))
    assert len(kept) == 1 and str(kept[0]) in msg  # its own folder, named in the message
    assert not list(report.parent.glob(".tmp-*"))


def test_rerun_gives_the_same_numbers(report, tmp_path):
    again = run_report(sample_params(), run_name="again", reports_dir=tmp_path, quiet=True, html=False)
    for f in (
        "quality/accounting.csv",
        "quality/quarantine.csv",
        "exports/contact_list.csv",
        "artifacts/attribution_by_channel.csv",
    ):
        a, b = pd.read_csv(again / f), pd.read_csv(report / f)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, obj=f)
    for nb in sorted(report.glob("[0-9][0-9]_*.ipynb")):
        checked = [summary_counts(printed_text(p)) for p in (nb, again / nb.name)]
        assert checked[0] == checked[1], nb.name


def test_unknown_notebook_is_refused(tmp_path):
    with pytest.raises(ParamError, match="unknown notebook"):
        run_report({"data_dir": str(SAMPLE)}, run_name="x", reports_dir=tmp_path, notebooks=["99_nope"], quiet=True)


def test_leftovers_of_killed_runs_are_cleaned_and_failed_runs_are_not_deleted_by_others(tmp_path):
    """A killed run's temp folder (its pid is gone) goes at the next start; other runs' kept failures stay."""
    from helpers.run import _clean_leftovers

    dead = tmp_path / ".tmp-weekly-999999999"
    (dead / ".scratch").mkdir(parents=True)
    (dead / ".scratch" / "spool.parquet").write_bytes(b"x" * 100)
    mine = tmp_path / f".tmp-weekly-{os.getpid()}"
    mine.mkdir()
    failed = tmp_path / ".failed-weekly-20260101T000000-123"
    failed.mkdir()
    assert dead.name in _clean_leftovers(tmp_path)
    assert not dead.exists() and mine.exists() and failed.exists()


def test_failure_message_masks_phone_numbers_and_wechat_ids():
    from helpers.run import _redact

    msg = _redact("OutOfBoundsDatetime: Out of bounds nanosecond timestamp: 13912345678, +86 139 1234 5678, wxid_abc1")
    assert "13912345678" not in msg and "1234 5678" not in msg and "wxid_abc1" not in msg
    assert _redact("failed at cell 4 (row 12, 2025-01-05)") == "failed at cell 4 (row 12, 2025-01-05)"


def test_targeting_notebook_checks(report):
    text = printed_text(report / "06_targeting.ipynb")
    assert [ok == n > 0 for ok, n in summary_counts(text)] == [True]
    listed = pd.read_csv(report / "exports" / "contact_list.csv", dtype={"user_id": str, "staff_id": str})
    from helpers.targeting import EXPORT_COLUMNS

    assert list(listed.columns) == list(EXPORT_COLUMNS) and len(listed) == 200
    assert listed["score"].is_monotonic_decreasing and listed["rank"].tolist() == list(range(1, 201))
    assert (listed["days_since_last_order"].dropna() >= 7).all() and listed["days_since_last_order"].median() > 7
    assert set(listed["action"]) <= {"私聊", "群发", "优惠券"} and (listed["action"] == "私聊").sum() <= 50
    # every export names a tier as tiers.csv does, so the files join on tier (潜力 here, 潜力 potential there, before)
    tiers = set(pd.read_csv(report / "exports" / "tiers.csv", dtype={"user_id": str})["tier"])
    leave = pd.read_csv(report / "exports" / "leave_alone.csv", dtype={"user_id": str})
    assert set(listed["tier"]) <= tiers and set(leave["tier"]) <= tiers and len(leave)
    art = json.loads((report / "artifacts" / "targeting.json").read_text(encoding="utf-8"))
    assert art["score_kind"] == "incremental_value" and art["listed"] == 200 and art["leave_alone"] > 0
    assert art["lists"]["new"]["persuadable_share"] >= 2 * art["lists"]["old"]["persuadable_share"]


def test_staff_notebook_checks(report):
    text = printed_text(report / "07_staff.ipynb")
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))["staff"]
    assert summary_counts(text) == [(18, 18)]
    assert f"第一 {truth['best_pseudonym']}" in text and f"最后 {truth['worst_pseudonym']}" in text
    assert f"客户构成最冷的是 {truth['cold_pseudonym']}" in text and "广告投放" in text
    assert re.search(r"异常流失日（.*）：0 个", text)
    card = pd.read_csv(report / "exports" / "staff_scorecard.csv", encoding="utf-8-sig", dtype={"staff_id": str})
    assert len(card) == 9 and card["staff_id"].iloc[0] == truth["best_pseudonym"]
    art = json.loads((report / "artifacts" / "staff.json").read_text(encoding="utf-8"))
    assert [s["staff_id"] for s in art["staff"]][-1] == truth["worst_pseudonym"]
    assert art["measured"] == {"removals": True, "messages": True, "broadcasts": True}
