"""A corpus of malformed and awkward exports, generated here, each with its expected outcome.

Every case writes a small export folder and states what must happen: a ``DataContractError`` whose one-line
message names the file and the column or rule, or exactly which source rows are quarantined and why. For every
case that loads, rows read = rows kept + rows quarantined, per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from helpers.data import DataContractError, load

C_HEAD = "user_id,added_at,channel"
C_ROWS = ["001,2025-01-05 10:00,store_qr", "002,2025-01-06 11:00,parcel_card", "003,2025-01-07 12:00,livestream"]
O_HEAD = "order_id,user_id,ordered_at,amount,status"
O_ROWS = ["A1,001,2025-02-01 10:00,100,paid", "A2,002,2025-02-02 10:00,200,paid"]


def csv(head: str, rows: list[str]) -> str:
    return "\n".join([head, *rows]) + "\n"


@dataclass
class Case:
    name: str
    files: dict[str, str | bytes | pd.DataFrame] = field(default_factory=dict)
    error: tuple[str, ...] = ()  # substrings of the DataContractError message
    quarantined: dict[str, dict[int, str]] = field(default_factory=dict)  # table -> source row -> reason start
    check: object = None  # extra assertion on the Dataset


def base(**override) -> dict:
    files = {"contacts.csv": csv(C_HEAD, C_ROWS), "orders.csv": csv(O_HEAD, O_ROWS)}
    files.update(override)
    return {k: v for k, v in files.items() if v is not None}


def enc(text: str, encoding: str) -> bytes:
    return text.replace("¥", "￥").encode(encoding) if encoding == "gbk" else text.encode(encoding)


ZH_CONTACTS = "用户ID,添加时间,渠道\n001,2025/1/5 10:00,门店二维码\n002,2025年1月6日,包裹卡\n003,2025-01-07,直播间\n"
ZH_ORDERS = 'order_id,user_id,ordered_at,amount\nA1,001,2025-02-01,"¥1,299.00"\nA2,002,2025-02-02,88元\n'

CASES = [
    # encodings
    Case(
        "gbk_csv",
        base(**{"contacts.csv": enc(ZH_CONTACTS, "gbk"), "orders.csv": enc(ZH_ORDERS, "gbk")}),
        check=lambda ds: (
            ds.table("orders")["amount"].tolist() == [1299.0, 88.0]
            and ds.table("contacts")["channel"].iloc[0] == "门店二维码"
        ),
    ),
    Case(
        "gb18030_csv",
        base(**{"contacts.csv": enc(ZH_CONTACTS + "004,2025-01-08,𠮷野家\n", "gb18030")}),
        check=lambda ds: ds.table("contacts")["channel"].iloc[3] == "𠮷野家",
    ),
    Case(
        "utf8_bom_csv",
        base(**{"contacts.csv": enc(ZH_CONTACTS, "utf-8-sig")}),
        check=lambda ds: list(ds.table("contacts").columns)[0] == "user_id",
    ),
    # Excel
    Case(
        "xlsx_title_row",
        base(
            **{
                "contacts.csv": None,
                "contacts.xlsx": pd.DataFrame(
                    [
                        ["客户导出 2025-01-31", None, None],
                        ["用户ID", "添加时间", "渠道"],
                        ["001", "2025-01-05", "a"],
                        ["002", 45663.5, "b"],
                        ["003", pd.Timestamp("2025-01-07"), "c"],
                    ]
                ),
            }
        ),
        check=lambda ds: str(ds.table("contacts")["added_at"].iloc[1]) == "2025-01-06 12:00:00",
    ),
    # columns
    Case(
        "extra_and_renamed_columns",
        base(
            **{
                "contacts.csv": csv(
                    "External_UserID,CreateTime,来源,remark_note,vip_level", [r + ",x,3" for r in C_ROWS]
                )
            }
        ),
        check=lambda ds: (
            list(ds.table("contacts")["user_id"]) == ["001", "002", "003"]
            and any("remark_note, vip_level" in n for n in ds.notes)
        ),
    ),
    Case(
        "missing_user_id_column",
        base(**{"contacts.csv": csv("added_at,channel", ["2025-01-05,a"])}),
        error=("contacts.csv", "missing required column 'user_id'"),
    ),
    Case(
        "missing_amount_column",
        base(**{"orders.csv": csv("order_id,user_id,ordered_at", ["A1,001,2025-02-01"])}),
        error=("orders.csv", "missing required column 'amount'"),
    ),
    Case("missing_required_table", base(**{"orders.csv": None}), error=("required table 'orders' not found",)),
    Case("empty_file", base(**{"orders.csv": ""}), error=("orders.csv", "file is empty")),
    Case("header_only_required", base(**{"orders.csv": O_HEAD + "\n"}), error=("orders.csv", "has no rows")),
    Case(
        "header_only_optional",
        base(**{"touches.csv": "user_id,touched_at,touch_type\n"}),
        check=lambda ds: ds.has("touches") and len(ds.table("touches")) == 0,
    ),
    Case("missing_optional_tables", base(), check=lambda ds: not ds.has("touches") and not ds.has("leads")),
    Case("table_given_twice", base(**{"orders.parquet": pd.DataFrame({"x": [1]})}), error=("given twice",)),
    # keys and duplicates
    Case(
        "duplicate_order_id",
        base(**{"orders.csv": csv(O_HEAD, [*O_ROWS, "A1,003,2025-02-03,5,paid"])}),
        quarantined={"orders": {4: "duplicate order_id (first at row 2)"}},
    ),
    Case(
        "fully_duplicated_row",
        base(**{"contacts.csv": csv(C_HEAD, [*C_ROWS, C_ROWS[1]])}),
        quarantined={"contacts": {5: "exact duplicate of row 3"}},
    ),
    Case(
        "orphan_user_id",
        base(**{"orders.csv": csv(O_HEAD, [*O_ROWS, "A3,999,2025-02-03,5,paid"])}),
        quarantined={"orders": {4: "orphan user_id (not in contacts)"}},
    ),
    Case("leading_zero_ids", base(), check=lambda ds: ds.table("orders")["user_id"].tolist() == ["001", "002"]),
    Case(
        "ids_in_scientific_notation",
        base(**{"contacts.csv": csv(C_HEAD, [*C_ROWS, "1.23E+17,2025-01-08,a"])}),
        quarantined={"contacts": {5: "id in scientific notation"}},
    ),
    # money
    Case(
        "amount_formats",
        base(
            **{
                "orders.csv": csv(
                    "order_id,user_id,ordered_at,amount",
                    [
                        'A1,001,2025-02-01,"¥1,299.00"',
                        "A2,001,2025-02-01,1299元",
                        "A3,002,2025-02-01,１２９９",
                        "A4,002,2025-02-01,1.2万",
                        'A5,003,2025-02-01,"RMB 1,299"',
                    ],
                )
            }
        ),
        check=lambda ds: ds.table("orders")["amount"].tolist() == [1299.0, 1299.0, 1299.0, 12000.0, 1299.0],
    ),
    Case(
        "negative_amounts_and_refunds",
        base(
            **{
                "orders.csv": csv(
                    O_HEAD,
                    [
                        *O_ROWS,
                        "A3,001,2025-02-03,-50,refunded",
                        "A4,001,2025-02-03,-50,paid",
                        "A5,001,2025-02-03,abc,paid",
                    ],
                )
            }
        ),
        quarantined={"orders": {5: "negative amount", 6: "unparseable amount"}},
        check=lambda ds: ds.table("orders").set_index("order_id").loc["A3", "amount"] == 50.0,
    ),
    # time
    Case(
        "unparseable_timestamp",
        base(**{"orders.csv": csv(O_HEAD, [*O_ROWS, "A3,001,2025-13-45,5,paid"])}),
        quarantined={"orders": {4: "unparseable timestamp"}},
    ),
    Case(
        "future_timestamp",
        base(**{"orders.csv": csv(O_HEAD, [*O_ROWS, "A3,001,2031-01-01,5,paid"])}),
        quarantined={"orders": {4: "timestamp in the future"}},
    ),
    Case(
        "timezone_mixed_timestamps",
        base(
            **{
                "orders.csv": csv(
                    O_HEAD,
                    [
                        "A1,001,2025-02-01T02:00:00Z,1,paid",
                        "A2,001,2025-02-01 10:00:00,1,paid",
                        "A3,001,2025-02-01T03:00:00+01:00,1,paid",
                    ],
                )
            }
        ),
        check=lambda ds: ds.table("orders")["ordered_at"].dt.hour.tolist() == [10, 10, 10],
    ),
    Case(
        "removed_before_added",
        base(
            **{
                "contacts.csv": csv(
                    C_HEAD + ",removed_at", [C_ROWS[0] + ",2024-12-01", C_ROWS[1] + ",", C_ROWS[2] + ","]
                )
            }
        ),
        quarantined={"contacts": {2: "removed before it was added"}, "orders": {2: "orphan user_id"}},
    ),
    # enums and values
    Case(
        "unknown_enum_value",
        base(**{"orders.csv": csv(O_HEAD, [*O_ROWS, "A3,001,2025-02-03,5,已取消"])}),
        quarantined={"orders": {4: "unknown status"}},
    ),
    Case(
        "missing_required_value",
        base(**{"contacts.csv": csv(C_HEAD, [*C_ROWS, "004,,store_qr"])}),
        quarantined={"contacts": {5: "missing value"}},
    ),
    Case(
        "chinese_enum_values",
        base(**{"touches.csv": "user_id,touched_at,touch_type\n001,2025-02-01,朋友圈\n001,2025-02-01,私聊\n"}),
        check=lambda ds: ds.table("touches")["touch_type"].tolist() == ["moments", "private_chat"],
    ),
    Case(  # item 26: a huge label is cut at load, so everything rendered from it is bounded
        "huge_text_cell",
        base(**{"contacts.csv": csv(C_HEAD, [*C_ROWS, "004,2025-01-08," + "渠" * 200_000])}),
        check=lambda ds: (
            ds.table("contacts")["channel"].iloc[3] == "渠" * 99 + "…"
            and any("1 channel values longer than 100 characters cut to 100" in n for n in ds.notes)
        ),
    ),
    Case(
        "huge_text_cell_in_id",
        base(**{"orders.csv": csv(O_HEAD, [*O_ROWS, "A3," + "9" * 100_000 + ",2025-02-03,5,paid"])}),
        quarantined={"orders": {4: "id longer than 128 characters"}},
        check=lambda ds: all(v is None or len(v) <= 200 for v in ds.quarantine["value"]),
    ),
    Case(
        "pii_columns_dropped",
        base(
            **{"contacts.csv": csv(C_HEAD + ",手机号,微信号,姓名", [r + ",13912345678,wxid_abc,张三" for r in C_ROWS])}
        ),
        check=lambda ds: (
            "13912345678" not in ds.table("contacts").to_string() and any("手机号, 微信号, 姓名" in n for n in ds.notes)
        ),
    ),
    Case(
        "semicolon_delimited",
        base(**{"contacts.csv": "user_id;added_at;channel\n001;2025-01-05;a\n002;2025-01-06;b\n003;2025-01-07;c\n"}),
        check=lambda ds: ds.table("contacts")["channel"].tolist() == ["a", "b", "c"],
    ),
]


def write_case(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        p = folder / name
        if isinstance(content, pd.DataFrame):
            if name.endswith(".xlsx"):
                content.to_excel(p, header=False, index=False)
            else:
                content.to_parquet(p)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return folder


def test_corpus_is_large_enough():
    assert len(CASES) >= 25 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_case(case: Case, tmp_path):
    folder = write_case(case, tmp_path / case.name)
    if case.error:
        with pytest.raises(DataContractError) as err:
            load(folder, as_of="2026-01-01")
        msg = str(err.value)
        assert "\n" not in msg
        for part in case.error:
            assert part in msg, msg
        return
    ds = load(folder, as_of="2026-01-01")
    acc = ds.accounting.set_index("table")
    assert (acc["read"] == acc["kept"] + acc["quarantined"]).all()  # the accounting identity, every case
    for table, row in acc.iterrows():
        assert len(ds.table(table)) == row["kept"]
    got = {
        (t, r): reason
        for t, r, reason in zip(ds.quarantine["table"], ds.quarantine["row"], ds.quarantine["reason"], strict=True)
    }
    expected = {(t, r): why for t, rows in case.quarantined.items() for r, why in rows.items()}
    assert set(got) == set(expected), got
    for key, why in expected.items():
        assert got[key].startswith(why), (key, got[key])
    if case.check is not None:
        assert case.check(ds)
