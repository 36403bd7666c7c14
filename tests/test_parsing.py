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
