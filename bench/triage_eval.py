"""Triage evaluation on the development set: quality per severity, then speed on one core.

    python bench/triage_eval.py                      # test split, genres direct + social
    python bench/triage_eval.py --split validation   # what thresholds were chosen on

Four systems in one run, on the README's severity mapping: (a) keyword rules only (the
built-in config without the model), (b) the full triage (rules + shipped model, operating point
tuned for macro-F1 on validation), (c) and (d) the full triage with an urgent cut the training
chose on validation: for urgent recall 0.80, and for the best urgent F2. Speed is measured for
(b), one reply at a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from devset import REPLY_GENRES, SEVERITIES, Row, load, subset

from crisiscast.incidents.intake.triage import default_config, default_model, load_model, triage


def report(name: str, gold: list[str], predicted: list[str]) -> None:
    """Print macro-F1, urgent recall and per-class precision / recall."""
    f1s = []
    lines = []
    for label in SEVERITIES:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        n_pred = predicted.count(label)
        n_gold = gold.count(label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        lines.append(f"    {label:<7} P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  n={n_gold}")
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    urgent_recall = lines[0].split("R ")[1].split()[0]
    print(
        f"{name}: macro-F1 {statistics.fmean(f1s):.3f}  urgent recall {urgent_recall}  "
        f"accuracy {accuracy:.3f}"
    )
    print("\n".join(lines))


def speed(texts: list[str], warm_up: list[str], run: Callable[[str], object]) -> None:
    """Replies per second and p50 / p99 latency, one reply at a time in this one process.

    Warmed on other replies (a running service has seen some), so the per-word cache holds
    common words but none of the measured replies themselves.
    """
    for text in warm_up:
        run(text)
    latencies = []
    start = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter_ns()
        run(text)
        latencies.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p50 = latencies[len(latencies) // 2] / 1e6
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1e6
    print(
        f"speed: {len(texts) / elapsed:,.0f} replies/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms "
        f"({len(texts)} replies, one at a time, 1 core)"
    )


def main() -> None:
    """Run the three systems on one split and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    everything = load()
    rows: list[Row] = subset(everything, args.split, REPLY_GENRES)
    other = "validation" if args.split == "test" else "test"
    warm_up = [r.text for r in subset(everything, other, REPLY_GENRES)]
    gold = [r.severity for r in rows]
    texts = [r.text for r in rows]
    print(f"split={args.split} genres={'+'.join(REPLY_GENRES)} replies={len(rows)}")
    rules_only = default_config(use_model=False)
    full = default_config()
    cut = default_model().urgent_cut
    report("(a) keyword rules", gold, [triage(t, rules_only).severity for t in texts])
    report("(b) full triage", gold, [triage(t, full).severity for t in texts])
    report(
        f"(c) full, urgent cut {cut:.3f}",
        gold,
        [triage(t, full, urgent_cut=cut).severity for t in texts],
    )
    f2_cut = default_model().urgent_cut_f2
    report(
        f"(d) full, urgent cut {f2_cut:.3f} (best F2 on validation)",
        gold,
        [triage(t, full, urgent_cut=f2_cut).severity for t in texts],
    )
    fresh = load_model()  # its word cache has seen none of the replies above
    speed(texts, warm_up, lambda t: triage(t, full, model=fresh))


if __name__ == "__main__":
    main()
