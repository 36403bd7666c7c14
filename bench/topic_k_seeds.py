"""How much 05's number of chat topics depends on the NMF seed: the k chosen and the planted topics found, per seed.

``ChatTopics`` chooses k by topic quality (NPMI coherence × diversity). Its NMF starts from an SVD that depends on
``random_state``, and with the Kullback-Leibler loss it often ends in a local optimum that merges two planted topics
or spends a component on spam lines; the k chosen then changes with the seed. This script measures that on a real
report's messages (``--clean``: a report's ``clean`` folder, the same messages 05 reads) or on simulated chat
(``--messages``): per seed, the k chosen, each candidate's quality, how many of the simulator's planted topics the
final fit finds (at least 3 of a planted topic's words among a topic's top 5, 05's truth check) and the time.

    python bench/topic_k_seeds.py --clean reports/interactive/clean --seeds 0-4
    python bench/topic_k_seeds.py --messages 300000 --seeds 0-4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from truth_seeds import seeds  # bench/ is the script folder: python bench/topic_k_seeds.py

from helpers import features, simulate, topics
from helpers.engine import connect


def corpus_of(clean: Path | None, messages: int) -> topics.SegmentedCorpus:
    """Segment a report's group messages (as 05 does, over every date) or ``messages`` simulated chat lines."""
    if clean is not None:
        eng = connect(str(clean), "duckdb")
        lines, _ = topics.chat_lines(eng.to_pandas(features.group_messages(eng.table("messages"))))
    else:
        lines, _ = topics.chat_lines(simulate.chat_corpus(messages, seed=3, days=365)["messages"])
    return topics.segment(lines["content"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean", type=Path, help="a report's clean folder (default: simulate --messages)")
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--seeds", default="0-4")
    args = ap.parse_args()
    corpus = corpus_of(args.clean, args.messages)
    planted = {name: t["words"] for name, t in simulate.CHAT_TOPICS.items()}
    print(f"{corpus.n_messages:,} messages, {len(corpus.vocabulary)} vocabulary words; {len(planted)} topics planted")
    rows = {}
    for seed in seeds(args.seeds):
        t0 = time.perf_counter()
        model = topics.ChatTopics(random_state=seed).fit(corpus)
        found = topics.match_planted_topics(model.top_words_, planted)
        rows[seed] = {
            "k": model.params_["k"],
            "planted_found": int((found["overlap"] >= 3).sum()),
            "seconds": round(time.perf_counter() - t0, 1),
            **{f"q{k}": round(q, 3) for k, q in model.k_scores_["quality"].items()},
        }
        print(f"seed {seed}: k = {rows[seed]['k']}, {rows[seed]['planted_found']} planted found", flush=True)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("seed")
    print(table.to_string())
    ks = table["k"].value_counts().sort_index()
    print("k chosen over seeds: " + ", ".join(f"{k} × {n}" for k, n in ks.items()))


if __name__ == "__main__":
    main()
