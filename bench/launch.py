"""Launch latency, cold and warm: from typing `crisiscast launch` to the first outbox record.

Run from the repository root:  python bench/launch.py [--runs 3]

Prints one table. Baselines in the same run: the bare CLI (no Prefect) and a trivial Prefect
flow in a fresh process (Prefect's own cold-start floor).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "playbooks" / "saas-outage.yaml"
CLI = [sys.executable, "-m", "crisiscast.cli"]
TRIVIAL_FLOW = "from prefect import flow\n@flow\ndef f():\n    return 1\nf()\n"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env.update(
        CRISISCAST_HOME=str(home),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


def _first_record(outbox: Path) -> bool:
    return any(p.stat().st_size > 0 for p in outbox.rglob("*.jsonl")) if outbox.exists() else False


def timed(cmd: list[str], env: dict[str, str], outbox: Path | None = None) -> tuple[float, float]:
    """Seconds until the process exits, and until the first outbox record (or exit)."""
    if outbox is not None and outbox.exists():
        for f in outbox.rglob("*.jsonl"):
            f.unlink()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first: float | None = None
    while proc.poll() is None:
        if first is None and outbox is not None and _first_record(outbox):
            first = time.perf_counter() - start
        time.sleep(0.005)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")
    if first is None and outbox is not None and _first_record(outbox):
        first = total
    return total, first if first is not None else total


def _summary(label: str, samples: list[float], note: str) -> str:
    med, low, high = statistics.median(samples), min(samples), max(samples)
    return f"| {label} | {med:.2f} | {low:.2f} | {high:.2f} | {len(samples)} | {note} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    launch = [*CLI, "launch", str(PLAYBOOK), "-p", "service=Bench", "--exercise"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = _env(home)
        outbox = home / "outbox"
        # Warm Prefect's own database once so cold runs below are "cold process", not "first ever".
        timed([sys.executable, "-c", TRIVIAL_FLOW], env)

        floor = [timed([*CLI, "--help"], env)[0] for _ in range(args.runs)]
        rows.append(_summary("baseline: `crisiscast --help` (no Prefect)", floor, "process floor"))
        trivial = [timed([sys.executable, "-c", TRIVIAL_FLOW], env)[0] for _ in range(args.runs)]
        rows.append(
            _summary("baseline: trivial Prefect flow, fresh process", trivial, "Prefect floor")
        )

        cold = [timed(launch, env, outbox) for _ in range(args.runs)]
        rows.append(_summary("cold launch -> first outbox record", [c[1] for c in cold], ""))
        rows.append(_summary("cold launch, command returns", [c[0] for c in cold], ""))

        serve = subprocess.Popen(
            [*CLI, "serve", "--port", "8799"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            t0 = time.perf_counter()
            while not (home / "serve.json").exists():
                if serve.poll() is not None or time.perf_counter() - t0 > 120:
                    raise SystemExit("crisiscast serve did not start")
                time.sleep(0.05)
            ready = time.perf_counter() - t0
            warm = [timed(launch, env, outbox) for _ in range(max(args.runs, 5))]
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=30)
        rows.append(
            _summary("warm launch -> first outbox record", [w[1] for w in warm], "target <= 2 s")
        )
        rows.append(_summary("warm launch, command returns", [w[0] for w in warm], ""))
        rows.append(f"| `crisiscast serve` until ready | {ready:.2f} | | | 1 | paid once |")

    print("| what | median s | min s | max s | runs | note |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
