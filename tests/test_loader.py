"""Loader acceptance: encodings, Excel, quarantine with reasons, accounting identity, clear contract errors, PII."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import privacy
from helpers.data import DataContractError, load
from helpers.privacy import PiiKeyError, find_personal_data

from .conftest import AS_OF, SAMPLE

CONTACTS = """用户ID,添加时间,渠道,手机号,昵称
007,2025/1/5 13:00,门店二维码,13812345678,王芳
008,2025年1月6日 09:30,包裹卡,13912345678,李娜
009,2025-01-07,直播间,,
"""
ORDERS = """订单号,用户ID,下单时间,实付金额,订单状态
A1,007,2025-02-01 10:00,"¥1,299.00",已支付
A2,008,2025/2/2 11:00,"￥2,000.50",已支付
A3,009,2025-02-03,88元,已退款
"""


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    if encoding == "gbk":  # GBK has no U+00A5; Chinese exports write the full-width ￥ there
        text = text.replace("¥", "￥")
    p.write_bytes(text.encode(encoding))
    return p


def dataset(tmp_path: Path, contacts: str = CONTACTS, orders: str = ORDERS, encoding: str = "utf-8") -> Path:
    write(tmp_path, "contacts.csv", contacts, encoding)
    write(tmp_path, "orders.csv", orders, encoding)
    return tmp_path


def assert_accounting(ds) -> None:
    a = ds.accounting
    assert (a["read"] == a["kept"] + a["quarantined"]).all(), a
    for _, r in a.iterrows():
        q = ds.quarantine[ds.quarantine["table"] == r["table"]]
        assert q["row"].nunique() == r["quarantined"]
        kept_rows = "relationships" if r["table"] == "contacts" and ds.has("relationships") else r["table"]
        assert len(ds.table(kept_rows)) == r["kept"]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_chinese_csv_in_any_encoding_with_yuan_amounts(tmp_path, encoding):
    ds = load(dataset(tmp_path, encoding=encoding), as_of="2026-01-01")
    c, o = ds.table("contacts"), ds.table("orders")
    assert c["user_id"].tolist() == ["007", "008", "009"]
    assert c["channel"].tolist() == ["门店二维码", "包裹卡", "直播间"]
    assert str(c["added_at"].iloc[1]) == "2025-01-06 09:30:00"
    assert o["amount"].tolist() == [1299.0, 2000.5, 88.0]
    assert o["status"].tolist() == ["paid", "paid", "refunded"]
    assert ds.quarantine.empty
    assert_accounting(ds)
    expected = {"gbk": "gb18030", "gb18030": "gb18030", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}[encoding]
    assert ds.sources.set_index("table").loc["contacts", "encoding"] == expected


def test_pii_columns_never_reach_the_tables(tmp_path):
    ds = load(dataset(tmp_path), as_of="2026-01-01")
    everything = pd.concat([df.astype(str) for df in ds.tables.values()], axis=1).to_string()
    for secret in ("13812345678", "13912345678", "王芳", "李娜"):
        assert secret not in everything
    assert "手机号" not in everything and any("personal-data columns dropped" in n for n in ds.notes)


def test_phone_number_user_ids_are_pseudonymised_consistently(tmp_path):
    contacts = "user_id,added_at,channel\n13812345678,2025-01-05,store_qr\n"
    orders = "order_id,user_id,ordered_at,amount\nA1,13812345678,2025-02-01,10\n"
    ds = load(dataset(tmp_path, contacts, orders), as_of="2026-01-01", key=b"s3cret-key-for-tests")
    uid = ds.table("contacts")["user_id"].iloc[0]
    assert uid.startswith("pii_") and "13812345678" not in uid
    assert ds.table("orders")["user_id"].iloc[0] == uid  # joins still work


def test_missing_user_id_is_one_line_error_naming_file_and_column(tmp_path):
    write(tmp_path, "contacts.csv", "添加时间,渠道\n2025-01-05,store_qr\n")
    write(tmp_path, "orders.csv", ORDERS)
    with pytest.raises(DataContractError) as err:
        load(tmp_path, as_of="2026-01-01")
    msg = str(err.value)
    assert "\n" not in msg
    assert "contacts.csv" in msg and "'user_id'" in msg


def test_missing_required_table_names_the_expected_files(tmp_path):
    write(tmp_path, "contacts.csv", CONTACTS)
    with pytest.raises(DataContractError, match=r"required table 'orders' not found \(expected one of orders.csv"):
        load(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(DataContractError, match="data folder not found"):
        load(tmp_path / "nope")


def test_same_table_twice_is_ambiguous(tmp_path):
    dataset(tmp_path)
    write(tmp_path, "orders.xlsx", "")
    with pytest.raises(DataContractError, match="given twice"):
        load(tmp_path)


def test_duplicate_order_id_and_orphan_user_are_quarantined_with_reasons(tmp_path):
    orders = ORDERS + "A1,008,2025-02-05,5,已支付\nA9,404,2025-02-05,5,已支付\n"
    ds = load(dataset(tmp_path, orders=orders), as_of="2026-01-01")
    q = ds.quarantine.set_index("row")
    assert q.loc[5, "reason"] == "duplicate order_id (first at row 2)"
    assert q.loc[5, "column"] == "order_id" and q.loc[5, "value"] == "A1"
    assert q.loc[6, "reason"] == "orphan user_id (not in contacts)" and q.loc[6, "value"] == "404"
    assert ds.table("orders")["order_id"].tolist() == ["A1", "A2", "A3"]
    assert ds.table("orders")["amount"].iloc[0] == 1299.0  # the first A1 is kept
    assert_accounting(ds)


def test_row_level_rules(tmp_path):
    contacts = CONTACTS + "010,2025-01-08,直播间,,\n010,2025-01-08,直播间,,\n011,2025-03-01,x,,\n"
    contacts = contacts.replace("用户ID,添加时间,渠道,手机号,昵称", "用户ID,添加时间,渠道,手机号,昵称,删除时间")
    contacts = contacts.replace("011,2025-03-01,x,,", "011,2025-03-01,x,,,2025-02-01")
    orders = ORDERS + (
        "B1,007,2025-13-45,5,已支付\n"  # row 5 unparseable date
        "B2,007,2027-01-01,5,已支付\n"  # row 6 future
        "B3,007,2025-02-01,-5,已支付\n"  # row 7 negative paid
        "B4,007,2025-02-01,-5,已退款\n"  # row 8 negative refund: kept, made positive
        "B5,007,2025-02-01,5,已取消\n"  # row 9 unknown status
        "B6,007,2025-02-01,abc,已支付\n"  # row 10 bad amount
        "B7,,2025-02-01,5,已支付\n"  # row 11 missing user
    )
    ds = load(dataset(tmp_path, contacts, orders), as_of="2026-01-01")
    q = ds.quarantine
    reasons = dict(zip(zip(q["table"], q["row"], strict=True), q["reason"], strict=True))
    assert reasons[("contacts", 6)] == "exact duplicate of row 5"
    assert reasons[("contacts", 7)] == "removed before it was added"
    assert reasons[("orders", 5)] == "unparseable timestamp"
    assert reasons[("orders", 6)].startswith("timestamp in the future")
    assert reasons[("orders", 7)] == "negative amount"
    assert reasons[("orders", 9)].startswith("unknown status")
    assert reasons[("orders", 10)] == "unparseable amount"
    assert reasons[("orders", 11)] == "missing value"
    kept = ds.table("orders").set_index("order_id")
    assert "B4" in kept.index and kept.loc["B4", "amount"] == 5.0
    assert_accounting(ds)


def test_excel_with_title_row_and_typed_cells(tmp_path):
    rows = [
        ["客户明细 2025-01-31", None, None],
        ["external_userid", "createtime", "add_way"],
        ["007", 1736053200, 1],
        ["008", pd.Timestamp("2025-01-06 09:30"), 3],
    ]
    pd.DataFrame(rows).to_excel(tmp_path / "contacts.xlsx", header=False, index=False)
    write(tmp_path, "orders.csv", "order_id,user_id,ordered_at,amount\nA1,007,45700.5,10\n")
    ds = load(tmp_path, as_of="2026-01-01")
    c = ds.table("contacts")
    assert c["user_id"].tolist() == ["007", "008"]
    assert c["channel"].tolist() == ["scan_qr", "card_share"]  # WeCom add_way codes
    assert str(c["added_at"].iloc[0]) == "2025-01-05 13:00:00"  # unix seconds, UTC -> Shanghai
    assert str(ds.table("orders")["ordered_at"].iloc[0]) == "2025-02-12 12:00:00"  # Excel serial
    assert ds.sources.set_index("table").loc["contacts", "header_row"] == 2
    assert_accounting(ds)


def test_parquet_and_optional_tables(tmp_path):
    dataset(tmp_path)
    pd.DataFrame(
        {"user_id": ["007", "404"], "touched_at": ["2025-02-01", "2025-02-01"], "touch_type": ["朋友圈", "私聊"]}
    ).to_parquet(tmp_path / "touches.parquet")
    ds = load(tmp_path, as_of="2026-01-01")
    assert ds.has("touches") and not ds.has("leads")
    assert ds.table("touches")["touch_type"].tolist() == ["moments"]
    assert ds.quarantine.query("table == 'touches'")["row"].tolist() == [2]
    with pytest.raises(DataContractError, match="optional"):
        ds.table("leads")
    assert_accounting(ds)


def test_header_only_optional_table_and_empty_required_table(tmp_path):
    dataset(tmp_path)
    write(tmp_path, "spend.csv", "date,channel,cost\n")
    ds = load(tmp_path, as_of="2026-01-01")
    assert ds.has("spend") and len(ds.table("spend")) == 0
    write(tmp_path, "contacts.csv", "user_id,added_at,channel\n")
    with pytest.raises(DataContractError, match="has no rows"):
        load(tmp_path, as_of="2026-01-01")


def test_written_clean_tables_reload_identically(tmp_path):
    ds = load(dataset(tmp_path / "raw"), as_of="2026-01-01")
    clean = ds.write(tmp_path / "out")
    again = load(clean, as_of="2026-01-01")
    for name in ds.tables:
        pd.testing.assert_frame_equal(ds.table(name), again.table(name))
    assert (tmp_path / "out" / "quality" / "quarantine.csv").exists()


def test_soft_references_are_noted_not_quarantined(tmp_path):
    contacts = (
        "user_id,added_at,channel,referrer_id,campaign_id\n1,2025-01-05,referral,999,qr_x\n2,2025-01-05,store_qr,1,\n"
    )
    orders = "order_id,user_id,ordered_at,amount\nA1,1,2025-02-01,10\n"
    dataset(tmp_path, contacts, orders)
    write(tmp_path, "campaigns.csv", "campaign_id,name,start,end,cost\nc1,双11优惠券,2025-11-01,2025-11-11,500\n")
    ds = load(tmp_path, as_of="2026-01-01")
    assert ds.quarantine.empty and len(ds.table("contacts")) == 2
    assert any("1 referrer_id values are not contacts" in n for n in ds.notes)
    assert any("contacts: 1 rows name a campaign_id not in campaigns" in n for n in ds.notes)
    assert ds.table("campaigns")["name"].tolist() == ["双11优惠券"]  # a contract column called name is kept


def test_streaming_in_small_chunks_finds_duplicates_across_chunks(tmp_path):
    contacts = "用户ID,添加时间,渠道\n" + "".join(f"{i:03d},2025-01-01,门店二维码\n" for i in range(1, 41))
    lines = [f"A{i},{i % 40 + 1:03d},2025-02-{i % 28 + 1:02d} 10:00,{i}.00,已支付" for i in range(1, 61)]
    lines.insert(55, "A3,005,2025-03-01 10:00,9.00,已支付")  # order id of line 3, far away: another chunk
    lines.insert(50, lines[9])  # an exact copy of the 10th order, in a later chunk
    orders = "订单号,用户ID,下单时间,实付金额,订单状态\n" + "\n".join(lines) + "\n"
    d = dataset(tmp_path, contacts, orders)
    small = load(d, as_of="2026-01-01", chunk_rows=7)
    whole = load(d, as_of="2026-01-01")
    assert_accounting(small)
    assert small.tables.path("orders") is not None and whole.tables.path("orders") is None  # spooled vs in memory
    pd.testing.assert_frame_equal(small.quarantine, whole.quarantine)
    pd.testing.assert_frame_equal(small.accounting, whole.accounting)
    pd.testing.assert_frame_equal(small.table("orders"), whole.table("orders"))
    reasons = set(small.quarantine["reason"])
    assert "duplicate order_id (first at row 4)" in reasons
    assert "exact duplicate of row 11" in reasons
    out = small.write(tmp_path / "out")
    assert len(pd.read_parquet(out / "orders.parquet")) == small.accounting.set_index("table").loc["orders", "kept"]


def test_the_duplicate_index_answers_like_a_dictionary_over_many_chunks():
    """The sorted runs of :class:`helpers.data._Seen` (merged as they grow) find every earlier hash and its row."""
    import numpy as np

    from helpers.data import _Seen

    rng = np.random.default_rng(3)
    seen, first = _Seen(), {}
    for chunk in range(60):  # 60 chunks of uneven size: runs are merged at many different lengths
        h = rng.integers(0, 5_000, rng.integers(1, 400)).astype(np.uint64)  # small range: many repeats
        rows = np.arange(len(h)) + 1_000 * chunk
        expected = [first.get(int(x), -1) for x in h]
        assert seen.lookup(h).tolist() == expected
        new = np.array([int(x) not in first for x in h]) & ~pd.Series(h).duplicated().to_numpy()
        first.update({int(x): int(r) for x, r in zip(h[new], rows[new], strict=True)})
        seen.add(h[new], rows[new])
    assert len(seen.runs) <= 12 and sum(len(r[0]) for r in seen.runs) == len(first)
    assert all(np.all(np.diff(r[0].astype(np.int64)) > 0) for r in seen.runs)


def test_loading_in_two_processes_gives_the_same_dataset(tmp_path):
    """Tables after contacts and campaigns loaded in worker processes: same tables, quarantine, accounting, notes."""
    one = load(SAMPLE, as_of=AS_OF, demo=True, workers=1, chunk_rows=20_000)
    two = load(SAMPLE, as_of=AS_OF, demo=True, workers=2, chunk_rows=20_000)  # small chunks: spooled tables too
    assert any(two.tables.path(n) is not None for n in two.tables)
    pd.testing.assert_frame_equal(two.quarantine, one.quarantine)
    pd.testing.assert_frame_equal(two.accounting, one.accounting)
    pd.testing.assert_frame_equal(two.sources, one.sources)
    assert two.notes == one.notes and two.fingerprint == one.fingerprint
    for name in one.tables:
        pd.testing.assert_frame_equal(two.table(name), one.table(name), obj=name)
    # an error in a worker is the loader's error, as in one process: a required table that cannot be read
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE, bad)
    (bad / "orders.csv").write_bytes(b"\x00\x01\x02 not a table")
    errors = []
    for workers in (1, 2):
        with pytest.raises(DataContractError) as err:
            load(bad, as_of=AS_OF, demo=True, workers=workers)
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "orders.csv" in errors[0]


def test_streaming_the_sample_gives_the_same_dataset():
    sample_ds = load(SAMPLE, as_of=AS_OF, demo=True)
    small = load(SAMPLE, as_of=AS_OF, chunk_rows=9_000, demo=True)
    pd.testing.assert_frame_equal(small.quarantine, sample_ds.quarantine)
    pd.testing.assert_frame_equal(small.accounting, sample_ds.accounting)
    assert small.notes == sample_ds.notes
    for name in sample_ds.tables:
        pd.testing.assert_frame_equal(small.table(name), sample_ds.table(name), obj=name)
    from helpers import quality

    pd.testing.assert_frame_equal(quality.coverage(small), quality.coverage(sample_ds))
    pd.testing.assert_frame_equal(quality.daily_counts(small), quality.daily_counts(sample_ds))


# ------------------------------------------------------------------------------------------- privacy by construction
#: Every spelling of personal data an export may carry, where it may sit (issue 14, items 1, 5, 6 and 14).
PII_CONTACTS = """企业微信客户导出,,,,,,
用户ID,添加时间,渠道,推荐人,员工ID,删除时间,13700000000
+8613999999999,2025-01-05,store_qr,,13800000000,,x
0086 139 9999 9998,2025-01-05,referral,+86 139-9999-9999,王芳,,x
86-13999999997,2025-01-05,referral,0086 139 9999 9998,王芳,,x
139 9999 9996,2025-01-05,store_qr,,zhang.san@corp.cn,,x
１３９９９９９９９９５,2025-01-05,加我 wxid_promo99 或 13912345678,,,,x
wxid_abc123def,2025-01-05,store_qr,,,,x
李娜,2025-01-05,store_qr,张伟,,,x
00013629,2025-01-05,store_qr,,,,x
00013630,2025-01-05,store_qr,,,13512345678,x
"""
PII_ORDERS = """order_id,user_id,ordered_at,amount,status
A1,13999999999,2025-02-01,5,paid
A2,+86 139 9999 9995,2025-02-01,5,paid
A3,+86 139 9999 9990,2025-02-01,5,paid
A4,00013629,13612345678,5,paid
A5,00013629,139-1234-5679,5,paid
A6,WXID_ABC123DEF,2025-02-01,+8613412345678,paid
A7,李娜,2025-02-01,5,paid
A8,00013629,2025-02-01,5,13312345678
"""
PII_TOUCHES = (
    "user_id,touched_at,touch_type,campaign_id\n００８６-１３９９９９９９９９９,2025-02-01,朋友圈,ref_13999999999\n"
)
NAMES = ("王芳", "张伟", "李娜", "zhang.san")
KEY = b"loader-test-key-0123456789abcdef"


def _everything_written(out: Path) -> str:
    parts = []
    for f in sorted(out.rglob("*")):
        if f.suffix == ".parquet":
            parts.append(pd.read_parquet(f).astype(str).to_csv(index=False))
        elif f.is_file():
            parts.append(f.read_text(encoding="utf-8"))
    return "\n".join(parts)


def test_no_personal_data_survives_in_clean_tables_quarantine_notes_or_errors(tmp_path):
    raw = tmp_path / "raw"
    write(raw, "contacts.csv", PII_CONTACTS, "gbk")
    write(raw, "orders.csv", PII_ORDERS)
    write(raw, "touches.csv", PII_TOUCHES)
    ds = load(raw, as_of="2026-01-01", key=KEY)
    out = tmp_path / "out"
    ds.write(out)
    text = _everything_written(out)  # clean/*.parquet, quality/quarantine.csv, accounting.csv, manifest.json
    assert find_personal_data(text) == []
    for name in NAMES:
        assert name not in text, name
    assert not re.search(r"[\uff10-\uff19]", text)  # no full-width digit survives either
    c, o = ds.table("contacts"), ds.table("orders")
    assert c["user_id"].str.startswith("pii_").sum() == 7 and c["staff_id"].dropna().str.startswith("pii_").all()
    assert c["staff_id"].nunique() == 3 and c["channel"].iloc[4] == "加我 [wechat_id] 或 [phone]"
    # the same person joins across tables and columns whatever the spelling
    assert set(o["user_id"]) <= set(c["user_id"]) and o["order_id"].tolist() == ["A1", "A2", "A7"]
    assert ds.table("touches")["user_id"].iloc[0] == c["user_id"].iloc[0]
    assert c["referrer_id"].iloc[1] == c["user_id"].iloc[0] and c["referrer_id"].iloc[2] == c["user_id"].iloc[1]
    q = ds.quarantine.set_index(["table", "row"])
    assert q.loc[("contacts", 11), "reason"] == "number that is not a date"  # a phone in removed_at
    assert q.loc[("orders", 4), "value"].startswith("pii_")  # orphan: shown as its pseudonym
    assert q.loc[("orders", 5), "reason"] == "number that is not a date" and q.loc[("orders", 5), "value"] == "[phone]"
    assert q.loc[("orders", 6), "value"] == q.loc[("orders", 9), "value"] == "[phone]"
    assert (
        q.loc[("orders", 7), "reason"].startswith("implausible amount") and q.loc[("orders", 7), "value"] == "[phone]"
    )
    assert any(n == "contacts.csv: columns not in the contract ignored: [phone]" for n in ds.notes)
    manifest = json.loads((out / "quality" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pseudonym_key_id"] == privacy.key_id(KEY)
    assert KEY.decode() not in text and KEY.hex() not in text  # the key itself is never written


def test_error_messages_never_quote_a_cell(tmp_path):
    write(tmp_path, "contacts.csv", "13812345678,2025-01-05,王芳\n+86 139 9999 9998,2025-01-06,李娜\n")
    write(tmp_path, "orders.csv", PII_ORDERS)
    with pytest.raises(DataContractError) as err:
        load(tmp_path, as_of="2026-01-01", key=KEY)
    msg = str(err.value)
    assert "missing required column 'user_id'" in msg and "\n" not in msg
    assert find_personal_data(msg) == [] and not any(n in msg for n in NAMES)


def test_pseudonyms_are_keyed_and_stable(tmp_path):
    d = dataset(
        tmp_path,
        "user_id,added_at,channel\n+86 138 1234 5678,2025-01-05,a\n",
        "order_id,user_id,ordered_at,amount\nA1,13812345678,2025-02-01,1\n",
    )
    a = load(d, as_of=AS_OF, key=KEY).table("contacts")["user_id"].iloc[0]
    b = load(d, as_of=AS_OF, key=KEY).table("contacts")["user_id"].iloc[0]
    c = load(d, as_of=AS_OF, key=b"another-key-0123456789abcdef").table("contacts")["user_id"].iloc[0]
    assert a == b != c and a == privacy.pseudonym("13812345678", KEY)


def test_the_key_is_looked_up_never_a_salt(tmp_path, monkeypatch):
    d = dataset(tmp_path / "data")
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.setenv(privacy.KEY_FILE_ENV, str(tmp_path / "cfg" / "pii.key"))
    ds = load(d, as_of=AS_OF)  # first use creates the key file
    assert (tmp_path / "cfg" / "pii.key").exists() and ds.key_id == privacy.key_id(privacy.pii_key())
    assert any(ds.key_id in n for n in ds.notes)
    with pytest.raises(TypeError):
        load(d, as_of=AS_OF, pii_salt="s3cret")  # the salt parameter is gone
    with pytest.raises(PiiKeyError, match="not a text salt"):
        load(d, as_of=AS_OF, key="s3cret")
    with pytest.raises(PiiKeyError, match="demo key is only for the simulated sample"):
        load(d, as_of=AS_OF, demo=True)
    assert load(SAMPLE, as_of=AS_OF, demo=True, tables=("contacts", "orders")).key_id == "demo"


def test_a_loader_failure_never_shows_a_cell(tmp_path, monkeypatch):
    import helpers.data as data_module

    def broken(*args, **kwargs):
        raise ValueError("cannot compare 13812345678 with 王芳")

    monkeypatch.setattr(data_module, "_orphans", broken)
    with pytest.raises(DataContractError) as err:
        load(dataset(tmp_path), as_of=AS_OF, key=KEY)
    msg = str(err.value)
    assert msg.startswith("contacts.csv: the loader failed") and "13812345678" not in msg and "[phone]" in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained traceback with the original


def test_a_removal_after_as_of_leaves_the_contact_a_friend_at_as_of_and_keeps_its_orders(tmp_path):
    """as_of before the export's end: a later removal is no bad row (no orphaned orders); campaigns may run on."""
    contacts = (
        "user_id,added_at,channel,removed_at\n"
        "u1,2025-01-05,store_qr,2025-03-01\nu2,2025-01-06,store_qr,2025-06-01\nu3,2025-05-01,store_qr,\n"
    )
    orders = "order_id,user_id,ordered_at,amount\nA1,u2,2025-02-01,10\nA2,u2,2025-05-20,12\nA3,u3,2025-05-02,5\n"
    folder = dataset(tmp_path, contacts, orders)
    pd.DataFrame(
        {"campaign_id": ["c1"], "start": [pd.Timestamp("2025-03-20")], "end": [pd.Timestamp("2025-04-30")]}
    ).to_parquet(folder / "campaigns.parquet")
    ds = load(folder, as_of="2025-04-01")
    c = ds.table("contacts").set_index("user_id")
    assert c.loc["u1", "removed_at"] == pd.Timestamp("2025-03-01") and pd.isna(c.loc["u2", "removed_at"])
    assert "u3" not in c.index  # added after as_of: in the future
    assert ds.table("orders")["order_id"].tolist() == ["A1"]  # A2 is after as_of; A3's contact is in the future
    assert len(ds.table("campaigns")) == 1  # still running at as_of
    assert not ds.quarantine["reason"].str.startswith("orphan").any()
    assert any("1 removed_at after as_of read as empty" in n for n in ds.notes)
    assert_accounting(ds)


def test_a_customer_added_by_two_staff_members_is_one_person_and_two_relationships(tmp_path):
    """WeCom lists a customer once per staff member: no quarantine, counted once per person, twice per relationship."""
    contacts = (
        "external_userid,createtime,add_way,userid,删除时间\n"
        "wm_a,2025-01-05 10:00,1,zhangsan,\n"
        "wm_a,2025-02-01 09:00,3,lisi,2025-03-01\n"
        "wm_b,2025-01-07 11:00,1,zhangsan,2025-02-02\n"
        "wm_b,2025-01-08 11:00,1,wangwu,2025-04-02\n"
        "wm_c,2025-01-09 11:00,1,lisi,\n"
        "wm_c,2025-01-09 11:00,1,lisi,\n"
    )
    orders = "order_id,user_id,ordered_at,amount\nA1,wm_a,2025-02-01,10\nA2,wm_b,2025-02-03,12\n"
    ds = load(dataset(tmp_path, contacts, orders), as_of="2026-01-01")
    acc = ds.accounting.set_index("table")
    assert (acc.loc["contacts", "read"], acc.loc["contacts", "kept"], acc.loc["contacts", "quarantined"]) == (6, 5, 1)
    assert ds.quarantine["reason"].tolist() == ["exact duplicate of row 6"]  # a true duplicate is still one
    people, rel = ds.table("contacts"), ds.table("relationships")
    assert len(people) == 3 and len(rel) == 5 and people["user_id"].is_unique
    p = people.set_index("user_id")
    assert pd.isna(p.loc["wm_a", "removed_at"])  # still a friend of zhangsan
    assert p.loc["wm_b", "removed_at"] == pd.Timestamp("2025-04-02")  # gone from both: at the last removal
    assert p.loc["wm_a", "added_at"] == pd.Timestamp("2025-01-05 10:00")  # the first relationship
    assert rel["staff_id"].str.startswith("pii_").all() and rel.groupby("user_id")["staff_id"].nunique().max() == 2
    assert any("extra relationships" in n for n in ds.notes)
    assert ds.table("orders")["user_id"].isin(people["user_id"]).all()


def test_every_note_of_the_sample_load_reads_in_chinese(sample_ds):
    """Every note the loader writes on the sample export has a Chinese sentence (the list above is hand-picked)."""
    from helpers.quality import note_text

    assert sample_ds.notes
    untranslated = [n for n in sample_ds.notes if note_text(n, "zh") == n]
    assert not untranslated, untranslated


@pytest.mark.parametrize(
    "note",
    [
        "pseudonyms keyed with key k-3ef1edbf (the same key gives the same pseudonyms in every run)",
        "orders.csv: column '金额' also maps to 'amount'; the first one is used",
        "contacts: 1,203 extra relationships (a customer added by several staff members): 21,203 relationships kept "
        "in relationships, 20,000 people in contacts (each person's first relationship; a friend while any "
        "relationship is)",
        "contacts: 12 referrer_id values are not contacts (kept; referrers may have left)",
        "orders: 3 rows name a campaign_id not in campaigns (kept)",
        "messages.csv: 4 content values longer than 2000 characters cut to 2000",
        "messages.csv: 17 phone numbers, WeChat ids, e-mails or card numbers masked in content",
        "contacts.csv: 5 removed_at placeholder dates (such as 9999-12-31, 1970-01-01 or 0) read as empty (still a "
        "friend)",
        "orders.csv: 2 ordered_at placeholder dates (such as 9999-12-31, 1970-01-01 or 0) read as empty",
        "orders.csv: the text encoding changes inside the file: 10 line(s) read as UTF-8, 3 as GB18030 (decoded line "
        "by line)",
        "touches.xls: not read (old Excel format); optional table 'touches' skipped",
        "touches.csv: cannot be read: bad zip; optional table 'touches' skipped",
        "contacts.csv: 75 user_id values that are personal data replaced by keyed pseudonyms",
    ],
)
def test_every_loader_note_reads_in_chinese(note):
    """A load note on a Chinese page has no English sentence left (names of files, columns and codes may stay)."""
    from helpers.quality import note_text

    zh = note_text(note, "zh")
    words = re.findall(r"[A-Za-z]{3,}", zh)
    english = [
        w for w in words if w.lower() in {"the", "values", "rows", "read", "kept", "not", "line", "empty", "with"}
    ]
    assert zh != note and not english, zh


def test_coverage_of_a_time_column_the_export_lacks_shows_no_values_and_no_span(tmp_path):
    """Without removed_at, coverage says 0 rows have a deletion time and no span: not 4 rows over 0 days."""
    from helpers import quality

    contacts = "user_id,added_at,channel\nu1,2025-01-05,store_qr\nu2,2025-01-06,store_qr\n"
    orders = "order_id,user_id,ordered_at,amount\nA1,u2,2025-02-01,10\nA2,u2,2025-02-03,12\n"
    cov = quality.coverage(load(dataset(tmp_path, contacts, orders), as_of="2025-04-01"))
    removed = cov[(cov["table"] == "contacts") & (cov["column"] == "removed_at")].iloc[0]
    assert removed["rows"] == 2 and removed["filled"] == 0 and pd.isna(removed["days"])
    added = cov[(cov["table"] == "contacts") & (cov["column"] == "added_at")].iloc[0]
    assert added["filled"] == 2 and added["days"] == 2
