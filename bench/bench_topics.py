"""Chat topics at scale: segmentation speed of rjieba against plain jieba in the same script, and the topic fit.

A chat corpus from the simulator (``helpers.simulate.chat_corpus``: templates, fillers, emoji codes, @mentions, masked
personal data) is cleaned once; then

1. both segmenters cut the same distinct lines (the pipeline segments each distinct line once), characters per
   second and the ratio printed, and the share of lines on which they agree;
2. the full pipeline (``chat_lines`` → ``segment`` → ``ChatTopics.fit`` → ``transform``) runs on all messages, with
   wall time and peak memory.

The simulator's 1 M-contact run has about 3 M messages; ``--messages 3000000`` measures that size.

    python bench/bench_topics.py --messages 300000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from helpers import simulate, topics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--jieba-lines", type=int, default=50_000, help="distinct lines both segmenters cut")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sim = simulate.chat_corpus(args.messages, seed=3, days=365)
    print(f"simulated {len(sim['messages']):,} messages in {time.perf_counter() - t0:.1f} s")

    lines, _ = topics.chat_lines(sim["messages"])
    cleaned = np.unique(np.asarray(topics.clean_text(lines["content"]).to_pylist(), dtype=object))
    sample = [s for s in cleaned[: args.jieba_lines] if s]
    chars = sum(len(s) for s in sample)
    speeds, cuts = {}, {}
    for backend in ("jieba", "rjieba"):
        seg = topics.Segmenter(backend)
        seg(sample[0])  # load the dictionary outside the timing
        t0 = time.perf_counter()
        cuts[backend] = [seg(s) for s in sample]
        speeds[backend] = chars / (time.perf_counter() - t0)
        print(f"{backend:>7}: {len(sample):,} distinct lines, {chars:,} characters, {speeds[backend]:,.0f} chars/s")
    agree = np.mean([a == b for a, b in zip(cuts["jieba"], cuts["rjieba"], strict=True)])
    print(f"rjieba / jieba speed: {speeds['rjieba'] / speeds['jieba']:.1f}×; same tokens on {agree:.1%} of lines")

    t0 = time.perf_counter()
    lines, _ = topics.chat_lines(sim["messages"])
    corpus = topics.segment(lines["content"])
    t_seg = time.perf_counter() - t0
    model = topics.ChatTopics(random_state=0).fit(corpus)
    t_fit = time.perf_counter() - t0 - t_seg
    assigned = model.transform(corpus)
    t_all = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"pipeline on {len(lines):,} messages ({corpus.n_unique:,} distinct lines): segment {t_seg:.1f} s, "
        f"fit (k = {model.params_['k']}) {t_fit:.1f} s, total {t_all:.1f} s; {np.mean(assigned['topic'] >= 0):.0%} "
        f"of messages get a topic; peak memory {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
