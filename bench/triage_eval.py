"""Triage evaluation: three systems side by side, on the development set and on en/th/lo replies.

    python bench/triage_eval.py          # dev test split (direct + social), replies test part
    python bench/triage_eval.py --split validation --part dev   # what was tuned on
    python bench/triage_eval.py --cli 25000          # + `crisiscast triage` throughput

Systems: (a) keyword rules only (the built-in or playbook rules, no model); (b) the rules with
the previous shipped model (bench/data/triage_model_previous.json.gz, format 1) at the point it
shipped with (``balanced``: plain most likely class); (c) the rules with the new model at the
default operating point (``urgent_recall``); (d) the new model at its ``balanced`` point, for
the macro-F1 a playbook trading recall for precision gets. On the development set:
macro-F1, per-class precision / recall and urgent recall and precision. On the labelled replies
(datasets/replies, each reply triaged with its own playbook): urgent recall, route accuracy
(the need the reply's category and danger select) and macro-F1 of severity. Speed is for (c),
one reply at a time in this process; ``--cli N`` also runs the CLI on N lines of the labelled
replies (SMS-length) and of the development set's messages (about 2.5 times longer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path

from devset import (
    PLAYBOOKS,
    REPLY_GENRES,
    REPLY_LANGUAGES,
    SEVERITIES,
    Reply,
    load,
    load_replies,
    subset,
)

from crisiscast.incidents.intake.triage import (
    TriageConfig,
    TriageModel,
    config_from_playbook,
    default_config,
    load_model,
    triage,
)
from crisiscast.playbook import load_playbook

PREVIOUS = Path(__file__).resolve().parent / "data" / "triage_model_previous.json.gz"


class System:
    """One triage system: rules, and optionally a model at an operating point."""

    def __init__(self, name: str, model: TriageModel | None, point: str | None) -> None:
        self.name, self.model, self.point = name, model, point

    def config(self, base: TriageConfig) -> TriageConfig:
        """The base config with this system's model switch and operating point."""
        if self.model is None:
            return replace(base, use_model=False)
        return replace(base, operating_point=self.point or base.operating_point)

    def severity(self, text: str, config: TriageConfig) -> tuple[str, str | None]:
        """Severity and route need of one reply."""
        result = triage(text, config, model=self.model)
        return result.severity, result.need


def scores(gold: list[str], predicted: list[str]) -> dict[str, float]:
    """Macro-F1 and per-class precision / recall (keys like ``urgent_P``)."""
    out: dict[str, float] = {}
    f1s = []
    for label in SEVERITIES:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        n_pred, n_gold = predicted.count(label), gold.count(label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        out[f"{label}_P"], out[f"{label}_R"] = precision, recall
    out["macro_F1"] = statistics.fmean(f1s)
    return out


def table(title: str, rows: list[str], columns: dict[str, dict[str, float]]) -> None:
    """A markdown table: one row per figure, one column per system."""
    print(f"\n{title}\n")
    print("| figure | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for row in rows:
        print(f"| {row} | " + " | ".join(f"{c[row]:.3f}" for c in columns.values()) + " |")


@cache
def playbook_config(name: str) -> TriageConfig:
    """The triage config of one example playbook (loaded once)."""
    return config_from_playbook(load_playbook(PLAYBOOKS / f"{name}.yaml"))


def replies_figures(system: System, replies: list[Reply]) -> dict[str, float]:
    """Urgent recall, route accuracy and macro-F1 on labelled replies."""
    predicted = [
        system.severity(r.text, system.config(playbook_config(r.playbook))) for r in replies
    ]
    gold = [r.severity for r in replies]
    figures = scores(gold, [p[0] for p in predicted])
    figures["route_accuracy"] = statistics.fmean(
        p[1] == r.need for p, r in zip(predicted, replies, strict=True)
    )
    return figures


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
        f"\nspeed in-process: {len(texts) / elapsed:,.0f} replies/s, p50 {p50:.3f} ms, "
        f"p99 {p99:.3f} ms ({len(texts)} replies, one at a time, 1 core)"
    )


def cli_speed(line_sets: dict[str, list[str]], count: int) -> None:
    """``crisiscast triage`` on ``count`` lines of each set, stdin from a file to stdout to a
    file, start-up included. The CLI runs alone on one core; this process waits on the other
    (sharing the core with the pipe's writer cost the CLI about 15 % in earlier runs)."""
    exe = shutil.which("crisiscast", path=str(Path(sys.executable).parent)) or "crisiscast"
    flood = ["--playbook", str(PLAYBOOKS / "regional-flood.yaml")]
    alone = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    if hasattr(os, "sched_setaffinity"):  # this process onto the other cores, if any
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)) - {alone} or {alone})
    with tempfile.TemporaryDirectory() as folder:
        for name, texts in line_sets.items():
            lines = (texts * (count // len(texts) + 1))[:count]
            source = Path(folder) / "in.txt"
            source.write_text("".join(t.replace("\n", " ") + "\n" for t in lines), "utf-8")
            chars = sum(len(t) for t in lines) / count
            for options in ([], flood):
                elapsed, out = _cli_run([exe, "triage", *options], source, alone)
                print(
                    f"crisiscast triage {' '.join(options[:1]) or '(built-in rules)'} on {name} "
                    f"({chars:.0f} chars a line): {count:,} lines in {elapsed:.2f} s = "
                    f"{count / elapsed:,.0f}/s ({out} lines out, 1 core, "
                    f"load {os.getloadavg()[0]:.1f})"
                )


def _cli_run(command: list[str], source: Path, core: int) -> tuple[float, int]:
    """Wall seconds of one CLI run pinned to ``core`` and the lines it wrote."""
    target = source.with_suffix(".out")
    pin = (lambda: os.sched_setaffinity(0, {core})) if hasattr(os, "sched_setaffinity") else None
    with source.open("rb") as stdin, target.open("wb") as stdout:
        start = time.perf_counter()
        subprocess.run(command, stdin=stdin, stdout=stdout, check=True, preexec_fn=pin)
        elapsed = time.perf_counter() - start
    return elapsed, target.read_bytes().count(b"\n")


def main() -> None:
    """Run the three systems on one dev split and one replies part, then the speed checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    parser.add_argument("--part", default="test", choices=("test", "dev"))
    parser.add_argument("--cli", type=int, default=0, help="also time the CLI on N lines")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    everything = load()
    rows = subset(everything, args.split, REPLY_GENRES)
    other = "validation" if args.split == "test" else "test"
    warm_up = [r.text for r in subset(everything, other, REPLY_GENRES)]
    gold, texts = [r.severity for r in rows], [r.text for r in rows]
    systems = [
        System("(a) keyword rules", None, None),
        System("(b) previous model", load_model(PREVIOUS), "balanced"),
        System("(c) new, urgent_recall", load_model(), None),
        System("(d) new, balanced", load_model(), "balanced"),
    ]
    base = default_config()
    dev = {s.name: scores(gold, [s.severity(t, s.config(base))[0] for t in texts]) for s in systems}
    print(f"development set split={args.split} genres={'+'.join(REPLY_GENRES)} replies={len(rows)}")
    table(
        "Development set (severity)",
        ["macro_F1", *(f"{c}_{m}" for c in SEVERITIES for m in "PR")],
        dev,
    )
    for language in REPLY_LANGUAGES:
        replies = load_replies(language, args.part)
        figures = {s.name: replies_figures(s, replies) for s in systems}
        table(
            f"Replies {language} ({args.part} part, {len(replies)} replies)",
            ["urgent_R", "urgent_P", "route_accuracy", "macro_F1"],
            figures,
        )
    fresh = load_model()  # its word cache has seen none of the replies above
    new = systems[2].config(base)
    print(f"\nload average before the speed run: {os.getloadavg()[0]:.1f} (2 cores shared)")
    speed(texts, warm_up, lambda t: triage(t, new, model=fresh))
    if args.cli:
        every_reply = [r.text for lg in REPLY_LANGUAGES for part in ("dev", "test")
                       for r in load_replies(lg, part)]  # fmt: skip
        cli_speed({"the labelled replies": every_reply,
                   "development-set messages": texts + warm_up}, args.cli)  # fmt: skip


if __name__ == "__main__":
    main()
