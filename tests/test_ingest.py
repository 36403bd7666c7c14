"""The engine path (helpers.ingest) gives the chunked loader's dataset: tables, quarantine, accounting and notes.

Every corpus case is turned into Parquet files (its CSV and Excel tables as text columns, its Parquet tables as they
are) and loaded both ways; so is the simulated sample. The quarantine must match line for line, in order.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import ingest, quality
from helpers.contract import TABLES
from helpers.data import DataContractError, load, normalize_column_name
from helpers.readers import iter_raw, split_table_file_name
from tests.test_corpus import CASES, KEY, write_case

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def assert_same(a, b) -> None:
    """Two datasets are the same: every table, the quarantine (in order), the accounting and the notes."""
    pd.testing.assert_frame_equal(a.accounting, b.accounting)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
    assert a.notes == b.notes
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), obj=name)


def as_parquet(folder: Path, into: Path) -> Path:
    """Write every table file of ``folder`` as Parquet (text cells as text, Parquet files copied as they are)."""
    into.mkdir(parents=True)
    for p in sorted(folder.iterdir()):
        stem, problem = split_table_file_name(p.name)
        table = normalize_column_name(stem)
        if p.suffix == ".parquet" or table not in TABLES or problem is not None:
            (into / p.name).write_bytes(p.read_bytes())
            continue
        known = set(TABLES[table].alias_map())
        frame = pd.concat([raw.frame for raw in iter_raw(p, known)], ignore_index=True)
        text = {
            str(c): [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v) for v in col]
            for c, col in frame.items()
        }
        pd.DataFrame(text, dtype=object).to_parquet(into / f"{stem}.parquet", index=False)
    return into


def load_both(folder: Path, **kw):
    """Load ``folder`` in chunks and in the engine; the same error, or two datasets."""
    out = []
    for how in ("chunks", "engine"):
        try:
            out.append(load(folder, ingest=how, **kw))
        except DataContractError as err:
            out.append(re.sub(r"\s+", " ", str(err)))
    return out


def check_corpus_case(case, tmp_path: Path, load_pair) -> None:
    """Write ``case`` as Parquet and require ``load_pair`` (two loaders) to give the same error or dataset."""
    folder = write_case(case, tmp_path / "raw")
    try:
        folder = as_parquet(folder, tmp_path / "parquet")
    except Exception as err:  # a file the chunked reader itself rejects: nothing to convert
        pytest.skip(f"not convertible: {type(err).__name__}")
    first, second = load_pair(folder, as_of="2026-01-01", key=KEY)
    if isinstance(first, str) or isinstance(second, str):
        assert first == second
        return
    assert_same(first, second)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_case_in_the_engine(case, tmp_path):
    check_corpus_case(case, tmp_path, load_both)


def test_sample_in_the_engine():
    chunks, engine = load_both(SAMPLE, demo=True, as_of="2026-01-01")
    assert_same(chunks, engine)
    assert len(engine.quarantine) > 0  # the sample plants bad rows: the comparison is not of empty tables
    # 00's quality tables read the engine's spooled files in DuckDB (campaigns' column "end" is a keyword)
    pd.testing.assert_frame_equal(quality.coverage(chunks), quality.coverage(engine))
    pd.testing.assert_frame_equal(quality.daily_counts(chunks), quality.daily_counts(engine))


def test_engine_quarantines_every_rule(tmp_path):
    """One Parquet file that breaks each rule once; the engine names each row and its reason."""
    contacts = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "13812345678", None],
            "added_at": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"]),
            "channel": ["store_qr", "livestream", "store_qr", "store_qr", "store_qr"],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["A1", "A2", "A2", "A3", "A4", "A5", "A6", "A1"],
            "user_id": ["u1", "u2", "u2", "nobody", "u3", "u1", "u1", "u1"],
            "ordered_at": np.array(
                [
                    "2025-02-01",
                    "2025-02-02",
                    "2025-02-02",
                    "2025-02-03",
                    "2027-01-01",
                    "2025-02-05",
                    "9999-12-31",
                    "NaT",
                ],
                dtype="datetime64[us]",
            ),
            "amount": [10.0, 20.0, 20.0, 30.0, 40.0, -5.0, 7.0, 10.0],
            "status": ["paid", "paid", "paid", "paid", "paid", "paid", "paid", "paid"],
        }
    )
    contacts.to_parquet(tmp_path / "contacts.parquet")
    orders.to_parquet(tmp_path / "orders.parquet")
    chunks, ds = load_both(tmp_path, as_of="2026-01-01", key=KEY)
    assert_same(chunks, ds)
    q = ds.quarantine
    got = dict(zip(zip(q["table"], q["row"], strict=True), q["reason"], strict=True))
    assert got[("contacts", 5)] == "missing value"
    assert got[("orders", 3)] == "exact duplicate of row 2"
    assert got[("orders", 4)] == "orphan user_id (not in contacts)"
    assert got[("orders", 5)].startswith("timestamp in the future")
    assert got[("orders", 6)] == "negative amount"
    assert got[("orders", 7)] == "placeholder date"
    assert got[("orders", 8)] == "missing value"
    assert ("orders", 1) not in got and ("orders", 2) not in got
    assert ds.table("contacts")["user_id"].str.startswith("pii_").sum() == 1  # the phone number, pseudonymised
    acc = ds.accounting.set_index("table")
    assert (acc["read"] == acc["kept"] + acc["quarantined"]).all()


def test_a_row_repeating_a_key_and_repeated_exactly_is_a_key_duplicate(tmp_path):
    """Rows 2 and 3 are identical and repeat row 1's order id: row 2 is a key duplicate, row 3 an exact one."""
    contacts = {"user_id": ["u1"], "added_at": [pd.Timestamp("2025-01-01")], "channel": ["store_qr"]}
    pd.DataFrame(contacts).to_parquet(tmp_path / "contacts.parquet")
    orders = {"order_id": ["A", "A", "A"], "user_id": ["u1"] * 3, "ordered_at": [pd.Timestamp("2025-02-01")] * 3}
    pd.DataFrame({**orders, "amount": [1.0, 2.0, 2.0]}).to_parquet(tmp_path / "orders.parquet")
    chunks, engine = load_both(tmp_path, as_of="2026-01-01", key=KEY)
    assert_same(chunks, engine)
    assert engine.quarantine[["row", "reason"]].values.tolist() == [
        [2, "duplicate order_id (first at row 1)"],
        [3, "exact duplicate of row 2"],
    ]


def test_clean_rows_keep_the_source_order_with_many_quarantined(tmp_path):
    """Over :data:`helpers.ingest.FEW_ROWS` quarantined rows leave the clean table by a join, which reorders rows
    of a table of a million (measured: 200 000 rows kept their order, 1 000 000 did not); the engine sorts back."""
    ids = [f"u{i}" for i in range(1000)]
    pd.DataFrame({"user_id": ids, "added_at": pd.Timestamp("2025-01-01"), "channel": "store_qr"}).to_parquet(
        tmp_path / "contacts.parquet"
    )
    orders = {"order_id": ["A1"], "user_id": ["u1"], "ordered_at": [pd.Timestamp("2025-03-01")], "amount": [9.0]}
    pd.DataFrame(orders).to_parquet(tmp_path / "orders.parquet")
    n = 1_200_000
    rng = np.random.default_rng(0)
    touches = pd.DataFrame(
        {
            "user_id": np.array(ids + ["ghost"])[rng.integers(0, 1001, n)],
            "touched_at": pd.Timestamp("2025-02-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
            "touch_type": "private_chat",
        }
    )
    touches.loc[rng.random(n) < 0.02, "user_id"] = "ghost"
    touches.to_parquet(tmp_path / "touches.parquet")
    chunks, engine = load_both(tmp_path, as_of="2026-01-01", key=KEY)
    assert engine.accounting.set_index("table").loc["touches", "quarantined"] > ingest.FEW_ROWS
    assert_same(chunks, engine)


def test_auto_uses_the_engine_for_large_parquet_only(tmp_path, monkeypatch):
    calls = []
    real = ingest.load_table
    monkeypatch.setattr(ingest, "load_table", lambda con, spec, *a: calls.append(spec.name) or real(con, spec, *a))
    load(SAMPLE, demo=True, as_of="2026-01-01")
    assert calls == []  # the sample's files are small
    monkeypatch.setattr(ingest, "ENGINE_BYTES", 1)
    load(SAMPLE, demo=True, as_of="2026-01-01")
    assert "touches" in calls and "messages" in calls  # its contacts and orders are CSV: read in chunks
    with pytest.raises(ValueError, match="ingest must be"):
        load(SAMPLE, demo=True, ingest="spark")


@pytest.mark.parametrize("how", ["chunks", "engine"])
def test_a_failed_load_leaves_no_spooled_tables(tmp_path, monkeypatch, how):
    """Contacts are spooled to a temporary folder before orders fail: the folder goes with the error."""
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spool))
    ids = [f"u{i}" for i in range(5)]
    contacts = {"user_id": ids, "added_at": [pd.Timestamp("2025-01-01")] * 5, "channel": ["store_qr"] * 5}
    pd.DataFrame(contacts).to_parquet(tmp_path / "contacts.parquet")
    orders = {"order_id": ["A"], "user_id": ["ghost"], "ordered_at": [pd.Timestamp("2025-02-01")], "amount": [1.0]}
    pd.DataFrame(orders).to_parquet(tmp_path / "orders.parquet")
    with pytest.raises(DataContractError, match="all 1 orders rows are quarantined"):
        load(tmp_path, as_of="2026-01-01", key=KEY, ingest=how, chunk_rows=2)
    assert list(spool.iterdir()) == []


@pytest.fixture
def in_parts(monkeypatch):
    """Long tables are checked in parts (:data:`helpers.ingest.PART_ROWS`): here, every table of more than 3 rows."""
    monkeypatch.setattr(ingest, "PART_ROWS", 3)


#: Cases whose rows quarantine each other or fail a rule in several places (about 12 s each in parts of 3 rows).
ACROSS_ROWS = {
    "duplicate_order_id",
    "fully_duplicated_row",
    "orphan_user_id",
    "amount_formats",
    "negative_amounts_and_refunds",
    "unparseable_timestamp",
    "future_timestamp",
    "removed_before_added",
    "unknown_enum_value",
    "missing_required_value",
    "i06_personal_ids_normalised_and_pseudonymised",
    "i13_all_orders_orphaned_by_stripped_zeros",
    "i13_all_orders_unparseable",
    "i16_malformed_rows_quarantined_one_by_one",
    "w_messages_text_masked_and_bad_enums",
    "w_group_members_join_and_quit",
    "w_customer_with_two_staff_members",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ACROSS_ROWS], ids=lambda c: c.name)
def test_corpus_case_in_parts(case, tmp_path, in_parts):
    """Duplicates and orphans are found across parts: the quarantine is the chunked loader's, line for line."""
    check_corpus_case(case, tmp_path, load_both)


def test_sample_in_parts(monkeypatch, tmp_path):
    monkeypatch.setattr(ingest, "PART_ROWS", 7_000)  # orders, touches, messages … in 2–40 parts each
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    chunks, engine = load_both(SAMPLE, demo=True, as_of="2026-01-01")
    assert_same(chunks, engine)
    assert engine.accounting["read"].max() > 10 * ingest.PART_ROWS
    assert not list(tmp_path.rglob("*-parts"))  # the parts go with the table's staging


def test_parts_keep_the_source_order_with_many_quarantined(tmp_path, monkeypatch):
    """A part that quarantines more than :data:`helpers.ingest.FEW_ROWS` rows leaves them out by a join and sorts
    back; the kept parts are appended in order."""
    assert len(ACROSS_ROWS & {c.name for c in CASES}) == len(ACROSS_ROWS)  # no case above was renamed away
    monkeypatch.setattr(ingest, "PART_ROWS", 600_000)  # two parts of about 12 600 quarantined rows each
    test_clean_rows_keep_the_source_order_with_many_quarantined(tmp_path)
