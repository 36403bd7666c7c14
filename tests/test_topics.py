"""Chat topics: planted topics, peak hours and the purchase topic recovered; personal data masked; no topic, no zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import features, simulate, topics


@pytest.fixture(scope="module")
def corpus_run():
    sim = simulate.chat_corpus(30_000, seed=11)
    lines, notes = topics.chat_lines(sim["messages"])
    corpus = topics.segment(lines["content"])
    model = topics.ChatTopics(k_grid=range(3, 9), random_state=0).fit(corpus)
    assigned = model.transform(corpus)
    return sim, lines, notes, corpus, model, assigned


def test_planted_topics_are_found_by_their_words(corpus_run):
    sim, _, _, _, model, _ = corpus_run
    planted = {k: v["words"] for k, v in sim["truth"]["topics"].items()}
    assert model.params_["k"] == len(planted)
    match = topics.match_planted_topics(model.top_words_, planted)
    assert (match["overlap"] >= 4).all(), match


def test_messages_get_their_planted_topic(corpus_run):
    sim, lines, _, _, model, assigned = corpus_run
    planted = {k: v["words"] for k, v in sim["truth"]["topics"].items()}
    match = topics.match_planted_topics(model.top_words_, planted)
    of = pd.Series(sim["truth"]["topic_of"], index=sim["messages"].index)
    position = pd.Series(sim["messages"].index, index=sim["messages"]["message_id"])
    kept = of.loc[lines["message_id"].map(position)]
    want = kept.map({k: int(t) for k, t in match["topic"].items()}).fillna(-1).to_numpy()
    got = assigned["topic"].to_numpy()
    topical = kept.to_numpy() != ""
    assert (got[topical] == want[topical]).mean() > 0.9  # a topic line is put in its topic
    assert (got[~topical] == topics.NO_TOPIC).mean() > 0.8  # fillers (好的, [强]) carry no topic


def test_relative_peak_hours_match_the_plant(corpus_run):
    sim, lines, _, _, model, assigned = corpus_run
    grid = topics.topic_hours(assigned["topic"], lines["sent_at"], model.params_["k"])
    peaks = topics.topic_peaks(grid, model.topic_names_)
    rec = topics.recovery_table(model, peaks, sim["truth"]["topics"])
    gap = (rec["relative_peak_hour"] - rec["planted_peak"]).abs()
    # chat_corpus spreads topic lines ±1.5 h around the peak (the sample ±1 h, checked within 1 h in 05): at quiet
    # hours a topic's tail is over-represented, which can pull the hour it dominates by up to 2 h
    assert (np.minimum(gap, 24 - gap) <= 2).all(), rec
    assert (np.minimum(gap, 24 - gap) == 0).sum() >= 2, rec


def test_the_purchase_topic_is_the_one_followed_by_purchases(corpus_run):
    sim, lines, _, _, model, assigned = corpus_run
    talk = lines[["user_id", "sent_at"]].assign(topic=assigned["topic"].to_numpy())
    end = sim["orders"]["ordered_at"].max()
    follow = features.messages_followed_by_purchase(talk, sim["orders"], end).execute()
    before = topics.topics_before_purchase(follow, model.topic_names_)
    planted = {k: v["words"] for k, v in sim["truth"]["topics"].items()}
    promo = int(topics.match_planted_topics(model.top_words_, planted).loc["promo", "topic"])
    assert before.index[0] == promo and before.loc[promo, "association"] == "higher"
    assert (before.drop(index=promo)["association"] != "higher").all()
    assert "association, not causation" in before.attrs["definition"]


def test_open_windows_are_not_counted_as_no_purchase():
    m = pd.DataFrame(
        {"user_id": ["u", "u"], "topic": [0, 0], "sent_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-29 09:00"])}
    )
    o = pd.DataFrame({"user_id": ["u"], "amount": [5.0], "ordered_at": pd.to_datetime(["2025-01-02"])})
    t = features.messages_followed_by_purchase(m, o, "2025-01-31").execute()
    assert t["messages"].tolist() == [1] and t["followed"].tolist() == [1]  # the 29 Jan message's week is open


def test_personal_data_is_masked_and_never_a_keyword(corpus_run):
    sim, lines, notes, corpus, model, _ = corpus_run
    text = " ".join(lines["content"])
    for value in sim["truth"]["pii_values"]:
        assert str(value) not in text
    masked = {k: v for k, v in notes["masked"].items() if k != "mention"}  # @mentions: names, masked too
    assert sum(masked.values()) == sum(sim["truth"]["pii_counts"].values())
    assert notes["masked"]["mention"] > 0 and "@[成员]" in text
    vocab = set(corpus.vocabulary)
    assert not any(str(v) in vocab for v in sim["truth"]["pii_values"])
    words = {w for ws in model.top_words_.values() for w in ws}
    assert not any(ch.isdigit() for w in words for ch in w)


def test_without_text_topics_are_not_measured():
    with pytest.raises(ValueError, match="not measured"):
        topics.chat_lines(pd.DataFrame({"user_id": ["u"], "sent_at": pd.to_datetime(["2025-01-01"])}))


def test_no_message_with_a_whole_follow_up_window_gives_an_empty_table_that_the_page_can_show():
    """Data shorter than the 7-day window (a single day's export): no row, the same columns, the 'none' sentence."""
    empty = pd.DataFrame(
        {
            "user_id": pd.Series(dtype=str),
            "topic": pd.Series(dtype=int),
            "messages": pd.Series(dtype=int),
            "followed": pd.Series(dtype=int),
        }
    )
    before = topics.topics_before_purchase(empty, {0: "a / b"})
    assert before.empty and [before.index.name, *before.columns] == topics.PURCHASE_COLUMNS
    assert topics.purchase_text(before, "zh") == topics.TEXT["purchase_none"]["zh"]
    assert "association, not causation" in before.attrs["definition"]
    topics.plot_topic_purchase(before)


def test_the_topics_do_not_depend_on_the_order_the_export_lists_the_messages(corpus_run):
    # Spark and DuckDB return the same messages in different orders: on the sample one order chose k = 4 and lost a
    # planted topic while the other chose 5 (a red CI). The corpus and the model now depend on what was said only.
    sim, lines, _, corpus, model, assigned = corpus_run
    order = np.random.default_rng(5).permutation(len(lines))
    shuffled = lines.iloc[order].reset_index(drop=True)
    corpus2 = topics.segment(shuffled["content"])
    np.testing.assert_array_equal(corpus2.codes, corpus.codes[order])
    assert (corpus2.counts != corpus.counts).nnz == 0
    model2 = topics.ChatTopics(k_grid=range(3, 9), random_state=0).fit(corpus2)
    assert model2.params_ == model.params_ and model2.top_words_ == model.top_words_
    pd.testing.assert_frame_equal(model2.k_scores_, model.k_scores_)
    np.testing.assert_array_equal(model2.transform(corpus2)["topic"], assigned["topic"].to_numpy()[order])


def test_a_planted_topic_nothing_matches_is_shown_as_a_dash_not_an_english_slug(corpus_run):
    sim, lines, _, _, model, assigned = corpus_run
    grid = topics.topic_hours(assigned["topic"], lines["sent_at"], model.params_["k"])
    peaks = topics.topic_peaks(grid, model.topic_names_)
    planted = {**sim["truth"]["topics"], "absent": {"words": ["无此词甲", "无此词乙"], "peak_hour": 3, "label": "缺席"}}
    rec = topics.recovery_table(model, peaks, planted)
    assert topics.NO_TOPIC not in model.topic_names_
    assert rec.loc["absent", "topic"] == "—" and rec.loc["absent", "overlap"] == 0
