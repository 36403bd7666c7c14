"""helpers.privacy: the key (environment, 0600 key file, demo key), keyed pseudonyms, masking and the scanner."""

from __future__ import annotations

import hashlib
import os
import stat

import pandas as pd
import pytest

from helpers import privacy
from helpers.privacy import (
    DEMO_KEY,
    PiiKeyError,
    canonical_identifier,
    find_personal_data,
    key_id,
    mask_text,
    pii_key,
    pseudonym,
    pseudonymise_ids,
)

from .conftest import SAMPLE

KEY = b"k" * 32

#: Every spelling of one mobile number an export may carry (item 6 of issue 14).
SPELLINGS = [
    "13999999998",
    "+8613999999998",
    "+86 139 9999 9998",
    "+86-139-9999-9998",
    "0086 13999999998",
    "0086-139-9999-9998",
    "86-13999999998",
    "8613999999998",
    "(+86) 139 9999 9998",
    "139 9999 9998",
    "139-9999-9998",
    "１３９９９９９９９９８",
    "＋８６ １３９ ９９９９ ９９９８",
]


@pytest.fixture
def key_env(tmp_path, monkeypatch):
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.setenv(privacy.KEY_FILE_ENV, str(tmp_path / "cfg" / "pii.key"))
    return tmp_path / "cfg" / "pii.key"


def test_key_file_is_created_once_with_owner_only_permissions(key_env):
    with pytest.raises(PiiKeyError, match="python -m helpers.privacy init"):
        pii_key(create=False)
    k1 = pii_key()
    assert key_env.exists() and len(k1) == 32
    assert stat.S_IMODE(key_env.stat().st_mode) == 0o600
    assert pii_key() == k1 == pii_key(create=False)  # the same key every time: the same pseudonyms every run


def test_key_file_readable_by_others_is_refused(key_env):
    pii_key()
    os.chmod(key_env, 0o644)
    with pytest.raises(PiiKeyError, match="chmod 600"):
        pii_key()


def test_key_from_the_environment_wins_and_must_be_long(key_env, monkeypatch):
    monkeypatch.setenv(privacy.KEY_ENV, "ab" * 32)
    assert pii_key() == bytes.fromhex("ab" * 32) and not key_env.exists()
    monkeypatch.setenv(privacy.KEY_ENV, "")  # the old default: an empty salt
    with pytest.raises(PiiKeyError, match="too short"):
        pii_key()
    monkeypatch.setenv(privacy.KEY_ENV, "short-secret")
    with pytest.raises(PiiKeyError) as err:
        pii_key()
    assert "short-secret" not in str(err.value) and "\n" not in str(err.value)


def test_demo_key_is_labelled_and_text_salts_are_refused():
    assert pii_key(demo=True) == DEMO_KEY and b"NOT SECRET" in DEMO_KEY and key_id(DEMO_KEY) == "demo"
    with pytest.raises(PiiKeyError, match="not a text salt"):
        privacy.check_key("my salt")
    with pytest.raises(PiiKeyError, match="at least 16 bytes"):
        privacy.check_key(b"short")


def test_key_id_reveals_nothing_but_tells_keys_apart():
    a, b = key_id(KEY), key_id(b"j" * 32)
    assert a != b and a.startswith("k-") and KEY.hex()[:8] not in a


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_phone_gets_one_pseudonym(spelling):
    assert canonical_identifier(spelling) == "13999999998"
    assert pseudonym(spelling, KEY) == pseudonym("13999999998", KEY)


def test_pseudonyms_are_keyed_not_a_plain_hash():
    p = pseudonym("13999999998", KEY)
    assert p != pseudonym("13999999998", b"j" * 32)
    unsalted = "pii_" + hashlib.sha256(b"|13999999998").hexdigest()[:16]  # what the old default produced
    assert p != unsalted and p != "pii_" + hashlib.sha256(b"13999999998").hexdigest()[:16]


def test_pseudonymise_modes():
    ids = pd.Series(["00013629", "wmAbCd0123", "+86 139 9999 9998", "wxid_abc123", "a@b.cn", "王芳", "staff_04", None])
    detect, n_detect = pseudonymise_ids(ids, KEY, "detect")
    person, n_person = pseudonymise_ids(ids, KEY, "person")
    every, n_all = pseudonymise_ids(ids, KEY, "all")
    assert n_detect == 3 and n_person == 4 and n_all == 7
    assert detect.tolist()[:2] == ["00013629", "wmAbCd0123"] and detect.iloc[5] == "王芳"
    assert person.iloc[5].startswith("pii_") and person.iloc[6] == "staff_04"
    assert every.dropna().str.startswith("pii_").all() and every.iloc[7] is None
    again, n = pseudonymise_ids(every, KEY, "all")  # clean tables loaded again keep their pseudonyms
    assert n == 0 and again.tolist() == every.tolist()


def test_scanner_finds_every_spelling_and_nothing_in_ordinary_report_text():
    for s in SPELLINGS:
        assert find_personal_data(f"客户 {s} 下单"), s
    hits = find_personal_data("wxid_ab12cd34 a.b@qq.com 110101199003074258 6222021234567890128 010-12345678")
    assert hits == ["110101199003074258", "6222021234567890128", "010-12345678", "wxid_ab12cd34", "a.b@qq.com"]
    ordinary = (
        "GMV ¥1,299.00 on 2025-01-05 10:30:00 (20250105103000); order O0000000001; user 00013629; pii_1a2b3c4d5e6f7a8b;"
        " 12.5% of 19,775 contacts; 110101199003074259 (bad checksum); 6222021234567890123 (bad Luhn)"
    )
    assert find_personal_data(ordinary) == []


def test_mask_text_counts_per_cell_and_keeps_missing():
    s = pd.Series(["加我 139-9999-9998", "加我 139-9999-9998", None, "wxid_abc123 或 a@b.cn", "门店"])
    masked, counts = mask_text(s)
    assert masked.tolist() == ["加我 [phone]", "加我 [phone]", None, "[wechat_id] 或 [email]", "门店"]
    assert counts == {"phone": 2, "wechat_id": 1, "email": 1}


def test_command_line_init_and_scan(key_env, tmp_path, capsys):
    assert privacy.main(["init"]) == 0
    assert "created a new key" in capsys.readouterr().out and key_env.exists()
    assert privacy.main(["key-id"]) == 0
    assert capsys.readouterr().out.strip() == key_id(pii_key())
    clean, dirty = tmp_path / "clean.csv", tmp_path / "dirty.csv"
    clean.write_text("user_id\npii_1a2b3c4d5e6f7a8b\n")
    dirty.write_text("user_id\n+86 139 9999 9998\n")
    assert privacy.main(["scan", str(clean)]) == 0
    assert privacy.main(["scan", str(dirty)]) == 1
    assert "9998" not in capsys.readouterr().out  # the scan never echoes a whole value


def test_a_names_file_names_staff_by_the_teams_own_ids_and_only_their_pseudonyms_reach_the_report(sample_ds, tmp_path):
    """A lead reads 07 and a 导购 the contact-list sheet by the names the team gave, not by ``pii_…``.

    The team writes its own staff ids (as in its export, here with full-width letters and padding); the copy the run
    keeps holds the loader's pseudonyms for exactly those ids, and no raw id.
    """
    from helpers.labels import Labels, read_names
    from helpers.params import NotebookRun

    raw = sorted(pd.read_parquet(SAMPLE / "staff.parquet")["staff_id"].astype(str))[:2]
    team = tmp_path / "names.csv"
    spelled = " " + raw[1].replace("s", "ｓ") + " "  # how a hand-made sheet may spell it
    rows = f"staff,{raw[0]},导购01,A01\nstaff,{spelled},导购02,\nchannel,x,海报,\n"
    team.write_text("kind,code,zh,en\n" + rows, encoding="utf-8-sig")
    out = tmp_path / "run"
    out.mkdir()
    kept = NotebookRun("00_data_prep", {"demo": True}, out, out / "clean").keep_names(str(team))
    text = kept.read_text(encoding="utf-8-sig")
    assert not any(r in text for r in raw) and "海报" in text
    clean_ids = set(sample_ds.tables["staff"]["staff_id"])
    names = read_names(kept)["staff"]
    assert len(names) == 2 and set(names) <= clean_ids
    L = Labels("zh", read_names(kept))
    assert sorted(L.name("staff", s) for s in clean_ids if s in names) == ["导购01", "导购02"]
    assert Labels("en", read_names(kept)).name("staff", pseudonym(raw[1], DEMO_KEY)) == "导购02"  # en empty: zh


def test_a_staff_display_name_holding_a_phone_number_is_refused_without_echoing_it(tmp_path):
    names = pd.DataFrame({"kind": ["staff"], "code": ["u1"], "zh": ["小张"], "en": ["wxid_abcd1234"]})
    with pytest.raises(ValueError, match="row 2 .*a WeChat id") as err:
        privacy.pseudonymise_names(names, KEY)
    assert "wxid_abcd1234" not in str(err.value)
