"""Masking personal data inside chat text: every spelling masked, look-alikes (orders, prices, dates) left alone."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from helpers.simulate import chat_corpus
from helpers.textmask import PII_KINDS, luhn_ok, mask_one, mask_text

MASKED = {
    "phone": [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 13812345678",
        "+8613812345678",
        "0086-13812345678",
        "0086 138 1234 5678",
        "86-138 1234 5678",
        "(+86)138-1234-5678",
        "１３８１２３４５６７８",
        "＋８６ １３８ １２３４ ５６７８",
        "１３８－１２３４－５６７８",
        "19912345678",
    ],
    "wechat": [
        "wxid_abc123def",
        "WXID_k3j4h5g6f7",
        "ｗｘｉｄ＿ａｂｃｄ１２３４",
    ],
    "email": ["mei8377@163.com", "123456@qq.com", "a.b+c@example.co.uk", "13812345678@163.com", "ａｂｃ＠ｑｑ．ｃｏｍ"],
    "id_card": [
        "11010519900307123X",
        "11010519900307123x",
        "110105199003071234",
        "４４０３０６２００１０２２９５６７８",
    ],
    "bank_card": ["6222021234567890128", "6222 0212 3456 7890 128", "6222-0212-3456-7890-128", "4111111111111111"],
}

KEYWORD_WECHAT = [
    ("加我微信：abc_123456", "加我微信：[微信号]"),
    ("微信号 Mei-2024x 备注群名", "微信号 [微信号] 备注群名"),
    ("vx: d7pftzz7zb", "vx: [微信号]"),
    ("VX号：hello_world", "VX号：[微信号]"),
    ("威信 abcdef1", "威信 [微信号]"),
    ("V信=meimei_88", "V信=[微信号]"),
    ("wechat: lily_2024", "wechat: [微信号]"),
]

LEFT_ALONE = [
    "订单号 2025010513800138000",  # a phone-like run inside a longer number
    "订单 202501051234567890",  # 18 digits, not a valid birth date, not a card prefix
    "订单号 6222021234567890127",  # card-like but fails Luhn
    "订单号 98765432109876543",  # 17 digits starting with 9: no card network
    "价格 ¥1,299.00，原价1599元",
    "2025-01-05 13:00:00",
    "20250105",
    "快递单号 SF1234567890123",
    "编号 1381234567890",  # 13 digits: too long for a mobile
    "12812345678",  # 11 digits but 12x is no mobile prefix
    "今天买了3件 99元 满199减30",
    "微信支付 wechat pay",
    "看看 wx",
    "用微信扫一扫",
    "微信 13812345678",  # the number is masked as a phone, not as a WeChat id (checked below)
]


@pytest.mark.parametrize("kind", list(MASKED))
def test_every_spelling_is_masked_alone_and_inside_a_sentence(kind):
    for raw in MASKED[kind]:
        counts: dict[str, int] = {}
        assert (
            mask_one(raw, counts)
            == {
                "phone": "[手机号]",
                "wechat": "[微信号]",
                "email": "[邮箱]",
                "id_card": "[身份证号]",
                "bank_card": "[银行卡号]",
            }[kind]
        ), raw
        assert counts == {kind: 1}, raw
        line = f"亲，我的是{raw}，谢谢"
        out = mask_one(line)
        assert raw not in out and out.startswith("亲，我的是[") and out.endswith("]，谢谢"), (raw, out)


def test_wechat_ids_after_a_keyword_keep_the_keyword():
    for raw, want in KEYWORD_WECHAT:
        assert mask_one(raw) == want, raw


def test_look_alikes_are_left_alone():
    for raw in LEFT_ALONE[:-1]:
        assert mask_one(raw) == raw, raw
    assert mask_one(LEFT_ALONE[-1]) == "微信 [手机号]"


def test_two_numbers_side_by_side_are_both_masked():
    assert mask_one("13812345678,13912345678") == "[手机号],[手机号]"
    assert mask_one("13812345678 13912345678") == "[手机号] [手机号]"


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")


def test_mask_text_keeps_index_and_missing_values_and_counts_every_kind():
    s = pd.Series(
        ["好的", None, "电话 138 1234 5678，邮箱 a@qq.com", "wxid_abcdef1", "@李英\u2005在吗"],
        index=[10, 11, 12, 13, 14],
    )
    masked, counts = mask_text(s)
    assert masked.index.tolist() == [10, 11, 12, 13, 14]
    assert masked.tolist() == ["好的", None, "电话 [手机号]，邮箱 [邮箱]", "[微信号]", "@[成员]\u2005在吗"]
    assert counts == {"email": 1, "mention": 1, "wechat": 1, "id_card": 0, "bank_card": 0, "phone": 1}
    assert list(counts) == list(PII_KINDS)
    empty, zero = mask_text(pd.Series([], dtype=object))
    assert len(empty) == 0 and sum(zero.values()) == 0


def test_planted_personal_strings_in_a_chat_corpus_are_all_masked_and_counted_fast():
    c = chat_corpus(200_000, seed=11)
    t0 = time.perf_counter()
    masked, counts = mask_text(c["messages"]["content"])
    seconds = time.perf_counter() - t0
    mentions = c["messages"]["content"].str.contains("\u2005", regex=False).sum()
    assert counts == {**c["truth"]["pii_counts"], "mention": mentions}  # exact: every planted string, nothing else
    joined = "\n".join(masked.tolist())
    assert not [v for v in c["truth"]["pii_values"] if v in joined]
    # 200k lines: about 0.25 s measured; 3 s leaves room for a slow shared machine
    assert seconds < 3.0


def _every_pattern_spans(folded: str) -> list[tuple[int, int, str]]:
    """The masker without its shortcuts: every exact pattern on every line (the reference for the fast path)."""
    from helpers import textmask as tm

    out: list[tuple[int, int, str]] = []
    found = [(m.span(), "email") for m in tm._EMAIL.finditer(folded)]
    found += [(m.span(1), "mention") for m in tm._MENTION.finditer(folded)]
    found += [(m.span(), "wechat") for m in tm._WXID.finditer(folded)]
    found += [(m.span(2), "wechat") for m in tm._WECHAT.finditer(folded)]
    found += [(m.span(), "id_card") for m in tm._ID_CARD.finditer(folded)]
    found += [
        (m.span(), "bank_card")
        for m in tm._BANK_CARD.finditer(folded)
        if 16 <= len(d := m.group().replace(" ", "").replace("-", "")) <= 19 and luhn_ok(d)
    ]
    found += [(m.span(), "phone") for m in tm._PHONE.finditer(folded)]
    for (a, b), kind in found:  # in the order of the kinds: an earlier kind wins an overlap
        if not any(a < e and s < b for s, e, _ in out):
            out.append((a, b, kind))
    return sorted(out)


def test_the_shortcuts_skip_only_patterns_that_cannot_match():
    import numpy as np

    from helpers import textmask as tm

    rng = np.random.default_rng(0)
    pieces = list("0123456789 -@＠.abcwxidvVXx微信号：_+86()１３８")
    pieces += ["wxid_", "微信", "@a.com", "13800138000", "6222021234567890128", "1101051990030712", "\u2005"]
    lines = ["".join(rng.choice(pieces, rng.integers(1, 40))) for _ in range(50_000)]
    masked = 0
    for s in lines:
        folded = s.translate(tm._FOLD)
        want = _every_pattern_spans(folded)
        assert tm._spans(folded) == want, s
        masked += bool(want)
    assert masked > 10_000  # the random lines do hold personal data of every kind
