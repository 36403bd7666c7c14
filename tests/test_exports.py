"""Exports staff open in Excel: BOM CSVs with ids as text, one formatted workbook (read back with openpyxl)."""

from __future__ import annotations

import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from helpers.exports import (
    HEADERS,
    display_width,
    read_csv_ids_as_text,
    write_csv,
    write_report_workbook,
    write_workbook,
)

IDS = ["00009325", "00018728", "0", "12345678"]


@pytest.fixture
def contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": IDS,
            "staff_id": ["007", "007", "012", None],
            "score": [11244.528854360977, 10070.5, 3.25, np.nan],
            "p_alive": [0.9992287571489434, 0.5, 0.0, 1.0],
            "expected_value": [11253.20781043623, 10081.2, 0.0, 1234567.891],
            "days_since_last_order": [1.0, 12.0, np.nan, 300.0],
            "is_friend": [True, False, True, True],
            "reason": ["近7天未触达，预计消费 ¥11,253", "=1+1", "http://example.invalid", "plain"],
        }
    )


def test_csv_starts_with_bom_and_round_trips_ids_as_text(contacts, tmp_path):
    path = write_csv(contacts, tmp_path / "exports" / "contact_list.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "¥11,253".encode() in raw  # UTF-8, not GBK
    back = read_csv_ids_as_text(path)
    assert back["user_id"].tolist() == IDS
    assert back["staff_id"].tolist()[:3] == ["007", "007", "012"] and back["staff_id"].isna().tolist()[3]
    plain = pd.read_csv(path, dtype={"user_id": str}, encoding="utf-8-sig")
    assert plain["user_id"].tolist() == IDS
    # rounded: money 2 decimals, rates 4, whole-number floats as integers, missing as empty
    line = path.read_text(encoding="utf-8-sig").splitlines()[1]
    assert line.startswith("00009325,007,11244.5289,0.9992,11253.21,1,True,")
    assert path.read_text(encoding="utf-8-sig").splitlines()[3].split(",")[5] == ""


def test_csv_named_index_becomes_the_id_column(tmp_path):
    df = pd.DataFrame({"tier": ["高价值", "潜力"]}, index=pd.Index(["00000001", "00000002"], name="user_id"))
    back = read_csv_ids_as_text(write_csv(df, tmp_path / "tiers.csv"))
    assert list(back.columns) == ["user_id", "tier"] and back["user_id"].tolist() == ["00000001", "00000002"]


def test_float_ids_are_written_without_decimals(tmp_path):
    df = pd.DataFrame({"user_id": [9325.0, np.nan, 18728.0]})
    text = write_csv(df, tmp_path / "a.csv").read_text(encoding="utf-8-sig").split()
    assert text == ["user_id", "9325", '""', "18728"]  # a lone empty field is quoted so the row is not blank


def test_workbook_has_chinese_headers_text_ids_formats_frozen_header_and_filter(contacts, tmp_path):
    tiers = pd.DataFrame(
        {"tier": ["高价值 high value", "沉睡 dormant"], "net_gmv": [68643.66, 0.0], "orders": [75, 0]},
        index=pd.Index(["00015432", "00002464"], name="user_id"),
    )
    path = write_workbook(tmp_path / "wb.xlsx", {"联系名单": contacts, "用户分层": tiers}, lang="zh")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["联系名单", "用户分层"]
    ws = wb["联系名单"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["用户ID", "员工ID", "优先级得分", "仍活跃概率"]
    assert header == [HEADERS["zh"].get(c, c) for c in contacts.columns]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H5"
    ids = [ws.cell(row=r, column=1) for r in range(2, 6)]
    assert [c.value for c in ids] == IDS and all(c.data_type == "s" for c in ids)
    assert ws["B2"].value == "007" and ws["B5"].value is None
    assert ws["C2"].value == pytest.approx(11244.528854360977) and ws["C2"].number_format == "#,##0.00"
    assert ws["D2"].number_format == "0.0%" and ws["D2"].value == pytest.approx(0.9992287571489434)
    assert ws["E5"].number_format == "#,##0.00"
    assert ws["F2"].value == 1 and ws["F2"].number_format == "#,##0" and ws["F4"].value is None
    assert [ws[f"G{r}"].value for r in range(2, 6)] == ["是", "否", "是", "是"]
    # text stays text: no formula, no hyperlink
    assert ws["H3"].value == "=1+1" and ws["H3"].data_type == "s"
    assert ws["H4"].hyperlink is None
    t = wb["用户分层"]
    assert [c.value for c in t[1]] == ["用户ID", "分层", "净成交额", "订单数"]
    assert t["A2"].value == "00015432" and t["A3"].value == "00002464"
    assert t["C2"].number_format == "#,##0.00" and t["D2"].number_format == "#,##0"
    # Excel's "number stored as text" marker is switched off for the id and text columns
    with zipfile.ZipFile(path) as z:
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
    assert 'numberStoredAsText="1"' in sheet1 and "A2:A5" in sheet1


def test_column_widths_count_chinese_characters_double(tmp_path):
    df = pd.DataFrame({"zh_text": ["私域增长分析工作簿" * 2], "en_text": ["private domain gr"], "n": [1]})
    ws = openpyxl.load_workbook(write_workbook(tmp_path / "w.xlsx", {"s": df}, lang="en"))["s"]
    zh, en = ws.column_dimensions["A"].width, ws.column_dimensions["B"].width
    assert display_width(df["zh_text"][0]) == 36 and zh >= 36
    assert 17 <= en < 25 and zh > 1.5 * en
    assert [c.value for c in ws[1]] == ["zh_text", "en_text", "n"]  # en: unknown names stay as they are


def test_workbook_headers_override_and_english(contacts, tmp_path):
    wb = openpyxl.load_workbook(
        write_workbook(tmp_path / "w.xlsx", {"list": contacts}, lang="en", headers={"reason": "Why"})
    )
    header = [c.value for c in wb["list"][1]]
    assert header[0] == "user id" and header[-1] == "Why"  # the pages' English header, not the column name
    assert wb["list"]["G2"].value == "yes"


def test_a_column_with_no_value_reads_not_measured_and_a_missing_value_stays_empty(tmp_path):
    """A contact list ranked by the due score has no uplift: its column says so in every cell instead of standing
    empty; a single missing value in a measured column (a friend who never ordered) stays an empty cell."""
    df = pd.DataFrame({"user_id": ["a", "b"], "uplift_order": [np.nan, np.nan], "days_since_last_order": [3.0, np.nan]})
    for lang, text in (("zh", "未测量"), ("en", "not measured")):
        ws = openpyxl.load_workbook(write_workbook(tmp_path / f"{lang}.xlsx", {"s": df}, lang=lang))["s"]
        assert [c.value for c in ws["B"][1:]] == [text, text]
        assert [c.value for c in ws["C"][1:]] == [3, None]
    empty = openpyxl.load_workbook(write_workbook(tmp_path / "e.xlsx", {"s": df.iloc[:0]}))["s"]
    assert empty.max_row == 1  # no rows: nothing to mark


def test_an_intervals_bounds_are_named_after_its_estimate(tmp_path):
    """07's scorecard sheet read 转化 O/E下限 beside 删除 O/E 下限: a bound after a Latin name is spaced like it."""
    df = pd.DataFrame({"conversion_oe": [1.0], "conversion_oe_low": [0.9], "conversion_oe_high": [1.1]})
    ws = openpyxl.load_workbook(write_workbook(tmp_path / "w.xlsx", {"s": df}))["s"]
    assert [c.value for c in ws[1]] == ["转化 O/E", "转化 O/E 下限", "转化 O/E 上限"]
    en = openpyxl.load_workbook(write_workbook(tmp_path / "e.xlsx", {"s": df}, lang="en"))["s"]
    assert [c.value for c in en[1]][1] == "conversion O/E, lower"


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    df = pd.DataFrame({"a": [1]})
    long = "渠道 / 员工: 本期 [2025-12] 对比上期的汇总表格（全部）"
    wb = openpyxl.load_workbook(write_workbook(tmp_path / "w.xlsx", {long: df, long + "x": df}))
    assert len(wb.sheetnames) == 2 and all(len(n) <= 31 for n in wb.sheetnames)
    assert len({n.lower() for n in wb.sheetnames}) == 2
    assert not any(ch in n for n in wb.sheetnames for ch in "[]:*?/\\")


def test_report_workbook_gathers_exports_in_order(contacts, tmp_path):
    ex = tmp_path / "exports"
    write_csv(contacts, ex / "contact_list.csv")
    write_csv(pd.DataFrame({"user_id": ["00000042"], "tier": ["潜力"]}), ex / "tiers.csv")
    write_csv(pd.DataFrame({"x": [1]}), ex / "other.csv")
    path = write_report_workbook(tmp_path, lang="zh")
    wb = openpyxl.load_workbook(path)
    assert path.name == "workbook.xlsx" and wb.sheetnames == ["联系名单", "用户分层", "other"]
    assert wb["联系名单"]["A2"].value == "00009325" and wb["用户分层"]["A2"].value == "00000042"
    assert write_report_workbook(tmp_path / "nothing") is None


def test_a_table_asked_for_an_unknown_number_format_fails_instead_of_showing_raw_floats():
    from helpers.labels import Labels

    frame = pd.DataFrame({"relative_error": [0.0416]}, index=["livestream"])
    with pytest.raises(ValueError, match="unknown format"):
        Labels("zh").show(frame, formats={"relative_error": "pct"})
    html = Labels("zh").show(frame, formats={"relative_error": "rate"}).to_html()
    assert "4.2%" in html and "0.0416" not in html


def test_an_empty_table_says_so_instead_of_drawing_headers_over_nothing():
    from helpers.labels import Labels

    empty = pd.DataFrame({"campaign_id": pd.Series(dtype=str), "n_treated": pd.Series(dtype=int)})
    assert Labels("zh").show(empty).data == "*（无记录）*"
    assert Labels("en").show(empty).data == "*(no rows)*"
    one_row = pd.DataFrame({"campaign_id": ["c1"], "n_treated": [1]})
    assert "<table" in Labels("zh").show(one_row).to_html()


def test_a_money_column_has_the_same_decimals_in_every_row():
    """Online Retail's tier table showed £0.00 under £7,024,119: decimals are decided per column, not per cell."""
    from helpers.labels import Labels

    frame = pd.DataFrame({"net_gmv": [7_024_119.0, 0.0], "aov": [12.5, 3.0]}, index=["高价值", "沉睡"])
    html = Labels("zh", currency="£").show(frame, formats={"net_gmv": "money", "aov": "money"}).to_html()
    assert "£7,024,119" in html and "£0<" in html and "£0.00" not in html
    assert "£12.50" in html and "£3.00" in html  # small amounts keep their pence


def test_a_column_of_sentences_is_wide_enough_to_read():
    """A notes column is not squeezed to one character per line when a table is wider than the page."""
    from helpers.labels import Labels

    frame = pd.DataFrame(
        {"model": ["BG/NBD", "MBG/NBD"], "note": ["有参数在数据里无法识别（似然平坦或在边界上）", None]}
    )
    assert "min-width: 18em" in Labels("zh").show(frame).to_html()
    assert "min-width" not in Labels("zh").show(frame[["model"]]).to_html()


def test_short_values_stay_on_one_line_and_text_aligns_left():
    """高价值 or +24.1 个百分点 is read whole, not 高价 / 值: short cells do not wrap; names left, numbers right."""
    import re

    from helpers.labels import Labels

    why = ["上次下单 270 天前；上次消息 23 天前", None]
    frame = pd.DataFrame({"tier": ["高价值", "潜力"], "score": [1.5, 2.0], "why": why})
    html = Labels("zh").show(frame).to_html()
    rules = {(td, col): body for td, col, body in re.findall(r"#T_\w+ (td)?\.(col\d) \{([^}]*)\}", html)}
    assert "white-space: nowrap" in rules["td", "col0"] and "text-align: left" in rules["", "col0"]
    assert "white-space: nowrap" in rules["td", "col1"] and ("", "col1") not in rules  # numbers: right (page CSS)
    assert "min-width: 18em" in rules["", "col2"] and ("td", "col2") not in rules  # a sentence wraps, left


def test_report_workbook_leaves_large_exports_and_machine_codes_to_the_csv(contacts, tmp_path):
    """An export above ``max_rows`` is named on a first sheet, never cut; machine-only columns stay in the CSV."""
    ex = tmp_path / "exports"
    listed = pd.DataFrame({"rank": [1, 2], "user_id": ["007", "008"], "action_key": ["private_chat", "coupon"]})
    write_csv(listed.assign(action=["私聊", "优惠券"]), ex / "contact_list.csv")
    big = pd.DataFrame({"user_id": [f"{i:08d}" for i in range(12)], "note": ["a\nb"] * 12})  # a quoted line break
    write_csv(big.assign(tier="高价值 high value"), ex / "tiers.csv")
    wb = openpyxl.load_workbook(write_report_workbook(tmp_path, lang="zh", max_rows=11))
    assert wb.sheetnames == ["说明", "联系名单"]
    about = list(wb["说明"].iter_rows(values_only=True))
    assert about[1][:3] == ("用户分层", 12, "exports/tiers.csv") and "11" in about[1][3]
    header = [c.value for c in wb["联系名单"][1]]
    assert "建议动作" in header and len(header) == 3  # action_key left out
    wb = openpyxl.load_workbook(write_report_workbook(tmp_path, lang="en", max_rows=12))
    assert wb.sheetnames == ["Contact list", "Tiers"] and wb["Tiers"].max_row == 13
    assert wb["Tiers"]["C2"].value == "high value"  # the bilingual label's half in the sheet's language


def test_report_workbook_shows_staff_by_the_names_the_team_gave_and_the_csv_keeps_the_codes(contacts, tmp_path):
    ex = tmp_path / "exports"
    write_csv(contacts, ex / "contact_list.csv")
    (tmp_path / "names.csv").write_text("kind,code,zh,en\nstaff,007,导购07,Clerk 7\n", encoding="utf-8-sig")
    for lang, shown in (("zh", "导购07"), ("en", "Clerk 7")):
        ws = openpyxl.load_workbook(write_report_workbook(tmp_path, lang=lang)).worksheets[0]
        assert [r[1] for r in ws.iter_rows(min_row=2, values_only=True)] == [shown, shown, "012", None]
    assert read_csv_ids_as_text(ex / "contact_list.csv")["staff_id"].tolist()[:3] == ["007", "007", "012"]
