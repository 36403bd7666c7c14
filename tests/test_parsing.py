import numpy as np
import pandas as pd
import pytest

from helpers.parsing import parse_amount, parse_enum, parse_id, parse_timestamp


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("¥1,299.00", 1299.0),
        ("￥1,299.00", 1299.0),
        ("1299元", 1299.0),
        ("１，２９９．５０", 1299.5),
        ("RMB 88", 88.0),
        ("1.2万", 12000.0),
        ("(35.00)", -35.0),
        ("-35", -35.0),
        (" 0 ", 0.0),
        (1299, 1299.0),
    ],
)
def test_amounts(raw, expected):
    v, bad = parse_amount(pd.Series([raw], dtype="object"))
    assert v.iloc[0] == pytest.approx(expected)
    assert not bad.iloc[0]


@pytest.mark.parametrize("raw", ["abc", "¥", "12..5", "1,2,3元x"])
def test_bad_amounts_are_flagged_not_dropped(raw):
    v, bad = parse_amount(pd.Series([raw]))
    assert np.isnan(v.iloc[0]) and bad.iloc[0]


def test_empty_amount_is_missing_not_bad():
    v, bad = parse_amount(pd.Series([None, "", "-"], dtype="object"))
    assert v.isna().all() and not bad.any()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2024/1/5 13:00", "2024-01-05 13:00:00"),
        ("2024-01-05", "2024-01-05 00:00:00"),
        ("2024年1月5日 13:05", "2024-01-05 13:05:00"),
        ("2024年1月5日 下午1:05", "2024-01-05 13:05:00"),
        ("2024.01.05 08:00:00", "2024-01-05 08:00:00"),
        ("2024-01-05T05:00:00Z", "2024-01-05 13:00:00"),
        ("2024-01-05 13:00:00+08:00", "2024-01-05 13:00:00"),
        ("2024-01-05 06:00:00+01:00", "2024-01-05 13:00:00"),
        (45296.5, "2024-01-05 12:00:00"),
        ("45296", "2024-01-05 00:00:00"),
        (1704430800, "2024-01-05 13:00:00"),
        (1704430800000, "2024-01-05 13:00:00"),
        ("２０２４－０１－０５", "2024-01-05 00:00:00"),
    ],
)
def test_timestamps(raw, expected):
    v, bad = parse_timestamp(pd.Series([raw], dtype="object"))
    assert str(v.iloc[0]) == expected
    assert not bad.iloc[0]


def test_timezone_mixed_column_is_converted_row_by_row():
    s = pd.Series(["2024-01-05 13:00:00", "2024-01-05T05:00:00Z", "2024-01-05 00:00:00-05:00"])
    v, bad = parse_timestamp(s)
    assert [str(x) for x in v] == ["2024-01-05 13:00:00", "2024-01-05 13:00:00", "2024-01-05 13:00:00"]
    assert not bad.any()


def test_tz_aware_datetime_column():
    s = pd.Series(pd.to_datetime(["2024-01-05 05:00"]).tz_localize("UTC"))
    v, _ = parse_timestamp(s)
    assert str(v.iloc[0]) == "2024-01-05 13:00:00"


@pytest.mark.parametrize("raw", ["2024-13-45", "yesterday", "2024/02/30"])
def test_bad_timestamps_flagged(raw):
    v, bad = parse_timestamp(pd.Series([raw]))
    assert pd.isna(v.iloc[0]) and bad.iloc[0]


def test_ids_keep_leading_zeros_and_reject_scientific():
    v, bad = parse_id(pd.Series(["007", "0012", 12.0, "1.23E+17", None, " 42 "], dtype="object"))
    assert v.tolist()[:3] == ["007", "0012", "12"]
    assert v.iloc[5] == "42"
    assert bad.tolist() == [False, False, False, True, False, False]


def test_integer_ids():
    v, bad = parse_id(pd.Series([1, 2, None], dtype="Int64"))
    assert v.tolist()[:2] == ["1", "2"] and not bad.any()


def test_enum_aliases_and_unknown():
    v, bad = parse_enum(
        pd.Series(["已支付", "Paid", "已退款", "已取消", None]),
        {"paid": "paid", "已支付": "paid", "已退款": "refunded"},
    )
    assert v.tolist()[:3] == ["paid", "paid", "refunded"]
    assert bad.tolist() == [False, False, False, True, False]


# ------------------------------------------------------------------------------------- hardening (issue 14)
from helpers.parsing import parse_column, serial_dates_likely  # noqa: E402


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("¥1.299,00", 1299.0),  # European: dots group thousands, the comma is the decimal mark
        ("12,50", 12.5),
        ("1,299", 1299.0),  # a comma before three digits groups thousands
        ("１，２９９．５０元", 1299.5),
        ("+5", 5.0),
    ],
)
def test_decimal_marks(raw, expected):
    v, bad = parse_amount(pd.Series([raw]))
    assert v.iloc[0] == pytest.approx(expected) and not bad.iloc[0]


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("$100", "foreign currency"),
        ("US$5", "foreign currency"),
        ("100 USD", "foreign currency"),
        ("€5", "foreign currency"),
        ("100日元", "foreign currency"),
        ("inf", "amount is not a finite number"),
        ("-Infinity", "amount is not a finite number"),
        ("13812345678", "implausible amount"),
        ("1,2,3", "unparseable amount"),
    ],
)
def test_amount_problems_have_their_reason(raw, reason):
    p = parse_column("money", pd.Series([raw]))
    assert list(p.problems) == [next(k for k in p.problems)] and next(iter(p.problems)).startswith(reason)
    assert np.isnan(p.values.iloc[0])


def test_numeric_amount_column_with_infinity():
    p = parse_column("money", pd.Series([1.0, np.inf, -np.inf, 2e9]))
    assert p.values.iloc[0] == 1.0 and p.values.iloc[1:].isna().all()
    assert sorted(k.split(" (")[0] for k in p.problems) == ["amount is not a finite number", "implausible amount"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("20250105103000", "2025-01-05 10:30:00"),
        ("20250105", "2025-01-05 00:00:00"),
        ("25/1/5", "2025-01-05 00:00:00"),
        ("25-01-05 10:00", "2025-01-05 10:00:00"),
        ("2025-01-05 02:00:00 UTC", "2025-01-05 10:00:00"),
        ("2025-01-05 10:00 GMT+8", "2025-01-05 10:00:00"),
        ("2025-01-05 10:00 UTC+08:00", "2025-01-05 10:00:00"),
        ("2025-01-04 21:00 EST", "2025-01-05 10:00:00"),
        ("Sun Jan 05 10:00:00 CST 2025", "2025-01-05 10:00:00"),
        ("2025-01-05 上午12:30", "2025-01-05 00:30:00"),
        ("2025-01-05 凌晨12:30", "2025-01-05 00:30:00"),
        ("2025-01-05 中午12:30", "2025-01-05 12:30:00"),
        ("2025-01-05 下午12:30", "2025-01-05 12:30:00"),
        ("2025-01-05 晚上12点", "2025-01-06 00:00:00"),
        ("2025年1月5日 下午3点半", "2025-01-05 15:30:00"),
        ("2025.1.5 9:05", "2025-01-05 09:05:00"),
    ],
)
def test_more_timestamp_spellings(raw, expected):
    v, bad = parse_timestamp(pd.Series([raw], dtype="object"))
    assert str(v.iloc[0]) == expected and not bad.iloc[0]


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("13812345678", "number that is not a date"),
        ("2025", "number that is not a date"),
        ("9999-12-31", "placeholder date"),
        ("9999-12-31 23:59:59", "placeholder date"),
        ("1970-01-01 08:00:00", "placeholder date"),
        ("0", "placeholder date"),
        ("2099-12-31", "placeholder date"),
        ("10:30", "time without a date"),
        ("2025-02-30 10:00:00", "unparseable timestamp"),  # no calendar day (the fast path must not roll over)
        ("2025-02-30", "unparseable timestamp"),
        ("1/5", "unparseable timestamp"),  # no year: not read as this year
        ("March", "unparseable timestamp"),
    ],
)
def test_timestamp_problems_have_their_reason(raw, reason):
    p = parse_column("timestamp", pd.Series([raw], dtype="object"))
    assert list(p.problems) == [reason] and pd.isna(p.values.iloc[0])


def test_typed_far_future_and_time_only_cells():
    import datetime as dt

    s = pd.Series([dt.datetime(9999, 12, 31), dt.time(10, 30), pd.Timestamp("2025-01-05 10:00"), 45663], dtype=object)
    p = parse_column("timestamp", s)
    assert str(p.values.iloc[2]) == "2025-01-05 10:00:00" and str(p.values.iloc[3]) == "2025-01-06 00:00:00"
    assert {k: m[m].index.tolist() for k, m in p.problems.items()} == {
        "placeholder date": [0],
        "time without a date": [1],
    }
    far = pd.Series(pd.array([dt.datetime(9999, 12, 31), dt.datetime(2025, 1, 5)], dtype="datetime64[us]"))
    p = parse_column("timestamp", far)  # a Parquet column pandas cannot hold in nanoseconds
    assert list(p.problems) == ["placeholder date"] and str(p.values.iloc[1]) == "2025-01-05 00:00:00"


def test_excel_serials_need_a_column_of_them():
    assert serial_dates_likely(pd.Series(["45663", "45664.5", "2025-01-07"]))
    assert not serial_dates_likely(pd.Series(["2025-01-05", "2025-01-06", "45663"]))
    assert not serial_dates_likely(pd.Series(["1", "2", "3"]))  # small integers are not dates
    v, _ = parse_timestamp(pd.Series(["2025-01-05", "2025-01-06", "45663"]))
    assert pd.isna(v.iloc[2])
    v, _ = parse_timestamp(pd.Series(["2025-01-05", "45663"]), serials=True)  # the loader decides per file
    assert str(v.iloc[1]) == "2025-01-06 00:00:00"


def test_ids_too_long_and_text_capped():
    p = parse_column("id", pd.Series(["x" * 129, "x" * 128]))
    assert list(p.problems) == ["id longer than 128 characters"] and p.values.iloc[1] == "x" * 128
    p = parse_column("text", pd.Series(["渠" * 101, "渠" * 100]), max_chars=100)
    assert p.values.tolist() == ["渠" * 99 + "…", "渠" * 100] and p.changed == {"truncated": 1}


def test_fast_and_slow_timestamp_paths_agree():
    raw = ["2025-01-05 10:00:00", "2025/1/5 10:00", "2025.01.05", "2025-01-05T10:00:00", "2025-1-5 10:00:00"]
    fast = [str(parse_timestamp(pd.Series([r]))[0].iloc[0]) for r in raw]
    slow = [str(pd.Timestamp(r.replace("/", "-").replace(".", "-"))) for r in raw]
    assert fast == slow
