"""Warm vs cold wall time of `crisiscast broadcast`, `sweep` and `stand-down`, side by side.

Run from the repository root:  python bench/warm_cli.py [--runs 3] [--contacts 100]

A small exercise incident (``--contacts`` contacts, the flood playbook) in a fresh home;
`crisiscast serve` runs as its own process, as a commander leaves it. Each command runs
``--runs`` times as a subprocess of the real CLI, warm (serve.json in place) and cold (moved
away, so the command starts Prefect itself), and the same work is also asked of serve directly
over HTTP: the warm CLI's overhead is its wall time minus that. `broadcast INC-1` is a full
flow run each time (after the first, nothing new is sent); every stand-down gets an incident
of its own. A second stand-down of INC-2 is timed too: "already closed" is answered without a
flow, warm (by serve, through the thin path) and cold (by the CLI), so neither starts Prefect.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOD = ROOT / "playbooks" / "regional-flood.yaml"
CLI = [sys.executable, "-m", "crisiscast.cli"]
WARM = "(warm (crisiscast serve))"
TARGET_OVERHEAD = 1.0  # seconds the warm CLI may add to serve's own work
NO_FLOW = "stand-down INC-2 (already closed: no flow)"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "CRISISCAST_", "TWILIO_", "SENDGRID_"))}  # fmt: skip
    env.update(
        CRISISCAST_HOME=str(home),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )  # a loaded machine
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"crisiscast {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _timed(work: Callable[[], object], warm: bool | None = None) -> tuple[float, float]:
    """Wall seconds ``work`` takes, and the CPU seconds of the processes it ran (the CLI's own
    work, whatever the machine's load); a CLI run must say it ran warm exactly when ``warm``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    output = work()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if warm is not None and (WARM in str(output)) != warm:
        raise SystemExit(f"expected a {'warm' if warm else 'cold'} run, got:\n{output}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def _seed(db: Path, count: int) -> None:
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO contacts (audience, phone, email, language) VALUES ('all', ?, ?, 'en')",
            ((f"+668{i:08d}", f"person{i}@example.org") for i in range(count)),
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(info: dict[str, str], path: str, payload: dict[str, object]) -> object:
    """Serve's own time for the work: the warm route called directly, as the CLI calls it."""
    from crisiscast.web.warm import ServerInfo, call_server

    server = ServerInfo(info["url"], info["token"], int(info["pid"]), info.get("store", ""))
    return call_server(server, path, payload, timeout=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--contacts", type=int, default=100)
    options = parser.parse_args()
    runs = options.runs
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = _env(home)
        _run(["list"], env)  # creates the store, at head
        _seed(home / "crisiscast.db", options.contacts)
        serve = subprocess.Popen([*CLI, "serve", "--port", str(_free_port())], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            started = time.perf_counter()
            while not (home / "serve.json").exists():
                if serve.poll() is not None or time.perf_counter() - started > 180:
                    raise SystemExit("crisiscast serve did not start")
                time.sleep(0.1)
            info = json.loads((home / "serve.json").read_text())
            rows = _measure(home, env, info, runs)
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=60)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nmedian of {runs} runs, {options.contacts} contacts, exercise incident\n")
    print("| command | cold s | warm s | serve's own work s | warm overhead s | "
          "warm CLI CPU s | target: overhead <= 1 s |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, cold, warm, direct, cpu in rows:
        if not cold:  # a baseline: one process, no flow
            print(f"| `{name}` | | {warm:.2f} | | | {cpu:.2f} | |")
            continue
        overhead = warm - direct
        met = "met" if overhead <= TARGET_OVERHEAD else "NOT met"
        print(f"| `{name}` | {cold:.2f} | {warm:.2f} | {direct:.2f} | {overhead:.2f} | "
              f"{cpu:.2f} | {met} |")  # fmt: skip


def _measure(
    home: Path, env: dict[str, str], info: dict[str, str], runs: int
) -> list[tuple[str, float, float, float, float]]:
    """Per command: cold, warm and serve's direct wall medians, and the warm CLI's CPU median."""
    launch = ["launch", str(FLOOD), "-p", "area=Bench riverside", "--exercise", "--everyone"]
    for _ in range(1 + 3 * runs):  # INC-1 to rebroadcast; one incident per stand-down
        _run(launch, env)
    down = iter(f"INC-{n}" for n in range(2, 2 + 3 * runs))
    work: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "broadcast INC-1": (
            lambda: _run(["broadcast", "INC-1"], env),
            lambda: _post(info, "/api/warm/broadcast", {"incident": "INC-1"}),
        ),
        "sweep": (
            lambda: _run(["sweep"], env),
            lambda: _post(info, "/api/warm/sweep", {}),
        ),
        "stand-down INC-n": (
            lambda: _run(["stand-down", next(down)], env),
            lambda: _post(info, "/api/warm/stand-down", {"incident": next(down)}),
        ),
        NO_FLOW: (  # after the stand-downs above: INC-2 is closed by then
            lambda: _run(["stand-down", "INC-2"], env),
            lambda: _post(info, "/api/warm/stand-down", {"incident": "INC-2"}),
        ),
    }
    floor = [_timed(lambda: _run(["--help"], env)) for _ in range(runs)]
    reads = [_timed(lambda: _run(["list"], env)) for _ in range(runs)]
    warm = {name: [_timed(cli, warm=name != NO_FLOW) for _ in range(runs)]
            for name, (cli, _) in work.items()}  # fmt: skip
    direct = {name: [_timed(call) for _ in range(runs)] for name, (_, call) in work.items()}
    serve_file = home / "serve.json"
    serve_file.rename(home / "serve.json.off")  # cold: the CLI finds no serve
    try:
        cold = {name: [_timed(cli, warm=False) for _ in range(runs)]
                for name, (cli, _) in work.items()}  # fmt: skip
    finally:
        (home / "serve.json.off").rename(serve_file)

    def median(samples: list[tuple[float, float]], part: int = 0) -> float:
        return statistics.median(sample[part] for sample in samples)

    rows = [(name, median(cold[name]), median(warm[name]), median(direct[name]),
             median(warm[name], 1)) for name in work]  # fmt: skip
    baselines = [("--help (baseline: no store, no flow)", floor),
                 ("list (baseline: reads the store, no flow)", reads)]  # fmt: skip
    return [*((name, 0.0, median(samples), 0.0, median(samples, 1)) for name, samples in baselines),
            *rows]  # fmt: skip


if __name__ == "__main__":
    main()
