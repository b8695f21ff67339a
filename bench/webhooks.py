"""Inbound-SMS webhook throughput and latency, and a check that nothing accepted is lost.

Run from the repository root:

    python bench/webhooks.py [--count 5000] [--concurrency 10,20,50] [--gc-tuning]
                             [--database-url postgresql://postgres@127.0.0.1:5432/test]
                             [--no-bare] [--no-breakdown] [--profile server-profile.txt]

The real app (``crisiscast.web.app.create_app``) runs under uvicorn in its own process on
127.0.0.1, with a fresh SQLite store (or ``--database-url``, e.g. PostgreSQL) holding one active
regional-flood incident. This process signs every request with twilio's RequestValidator
beforehand, then posts them with aiohttp at a fixed concurrency, each from a different number
(each opens its own case and gets its own acknowledgement: the expensive path). It prints
requests/s and p50/p99 latency per concurrency level, the count of stored messages against the
200s (0 lost), and an in-process breakdown of where a request's time goes. Before each level the
same requests go to a bare route of the same server (read the body, answer a constant TwiML):
the ceiling of uvicorn + FastAPI + this client on this machine, measured in the same minute.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "playbooks" / "regional-flood.yaml"
SMS_PATH = "/webhooks/twilio/sms"
BARE_PATH = "/bench/bare"
BARE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
TOKEN = "bench-twilio-auth-token"  # noqa: S105 - a made-up token for a local server
PUBLIC = "https://crisis.example.org"
TEXTS = (
    "200 people are trapped on the roof of the school",
    "we have no water and no food since yesterday",
    "just checking in, are the roads open?",
    "my grandmother is bedridden and the water is rising",
    "มีคนติดอยู่บนหลังคา ช่วยด้วย",
    "ไม่มีน้ำดื่ม ไม่มีอาหาร",
    "ບໍ່ມີອາຫານ ຊ່ວຍແດ່",
    "the app does not load, I cannot file my aid claim",
)


def _env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISISCAST_", "TWILIO_"))}
    env.update(
        CRISISCAST_HOME=str(home),
        CRISISCAST_DATABASE_URL=database_url,
        CRISISCAST_PUBLIC_URL=PUBLIC,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM_NUMBER="+15005550006",
    )
    return env


def bench_app() -> FastAPI:
    """The real app, as ``crisiscast serve`` builds it, plus the bare route (also the factory
    each worker process calls when ``--workers`` is above 1)."""
    from crisiscast.config import load_settings
    from crisiscast.web.app import create_app

    app = create_app(load_settings(), "bench-launch-token")

    @app.post("/bench/bare")
    async def bare(request: Request) -> Response:
        """The bare HTTP path: the same request read whole, a constant TwiML answer."""
        await request.body()
        return Response(BARE_TWIML, media_type="application/xml")

    if os.environ.get("BENCH_GC_TUNING") == "1":
        # Startup objects (playbooks, the triage model, SQLAlchemy metadata) never die: freeze
        # them out of the collector's scans, and collect the young generation less often.
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
    return app


def serve(port: int) -> None:
    """The server process: uvicorn with the real app (one process, or ``BENCH_WORKERS``)."""
    import uvicorn

    options = {"host": "127.0.0.1", "port": port, "log_level": "warning", "access_log": False,
               "http": os.environ.get("BENCH_HTTP", "auto"),
               "loop": os.environ.get("BENCH_LOOP", "auto")}  # fmt: skip
    workers = int(os.environ.get("BENCH_WORKERS", "1"))
    if workers > 1:
        uvicorn.run("webhooks:bench_app", factory=True, workers=workers, **options)
        return
    app = bench_app()
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # every thread (the writer too), CPU time: python bench/webhooks.py --profile F
        import yappi

        yappi.set_clock_type("cpu")
        yappi.start()
        # uvicorn re-raises the SIGTERM it stopped on, once its own handler is gone: write then.
        signal.signal(signal.SIGTERM, lambda *_: _write_profile(profile))
    uvicorn.run(app, **options)


def _write_profile(profile: str) -> None:
    import yappi

    if yappi.is_running():
        yappi.stop()
        with Path(profile).open("w") as out:
            stats = yappi.get_func_stats()
            stats.sort("tsub").print_all(
                out=out, columns={0: ("name", 100), 1: ("ncall", 9), 2: ("tsub", 8), 3: ("ttot", 8)}
            )


def prepare_store(database_url: str) -> None:
    """Migrate and add one active incident of the regional-flood playbook."""
    from crisiscast.incidents.store.database import Store, create_incident

    store = Store(database_url)
    store.upgrade()
    with store.session() as session:
        create_incident(
            session, playbook_id="regional-flood", playbook_path=str(PLAYBOOK),
            title="Flood: bench", params={"area": "bench"}, languages=["en", "th", "lo"],
            exercise=False, now=datetime.now(UTC),
        )  # fmt: skip
    store.dispose()


def signed_requests(count: int, start: int) -> list[tuple[bytes, str]]:
    """(form body, X-Twilio-Signature) per message, signed before the clock starts."""
    validator = RequestValidator(TOKEN)
    url = f"{PUBLIC}/webhooks/twilio/sms"
    out = []
    for n in range(start, start + count):
        params = {"MessageSid": f"SM{n:032x}", "From": f"+6681{n:07d}", "To": "+15005550006",
                  "Body": TEXTS[n % len(TEXTS)], "NumSegments": "1"}  # fmt: skip
        out.append((urlencode(params).encode(), validator.compute_signature(url, params)))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its children (uvicorn's workers) so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for task in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


async def fire(
    port: int,
    requests: list[tuple[bytes, str]],
    concurrency: int,
    path: str = SMS_PATH,
    server: int | None = None,
) -> dict[str, object]:
    """Post every request at ``concurrency``; latencies in ms, status counts, wall time, and
    the CPU time this client and the server process (``server``) spent per request."""
    server_before = cpu_seconds(server) if server else 0.0
    client_before = time.process_time()
    url = f"http://127.0.0.1:{port}{path}"
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while not queue.empty():
                body, signature = queue.get_nowait()
                headers = {"X-Twilio-Signature": signature,
                           "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
                began = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    client_cpu = (time.process_time() - client_before) * 1000 / len(requests)
    server_cpu = (cpu_seconds(server) - server_before) * 1000 / len(requests) if server else 0.0
    return {"latencies": latencies, "statuses": statuses, "wall": wall,
            "client_cpu_ms": client_cpu, "server_cpu_ms": server_cpu}  # fmt: skip


def stored_count(database_url: str) -> int:
    from crisiscast.incidents.store.database import Store
    from crisiscast.incidents.store.models import InboundMessage

    store = Store(database_url)
    with store.session() as session:
        n = int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)
    store.dispose()
    return n


def breakdown(database_url: str, n: int = 400) -> tuple[float, float, float]:
    """Mean ms per message in-process: triage alone; Intake.receive one by one (two commits
    each); Intake.receive_many in batches of 20 (what the writer thread does under load)."""
    from crisiscast.incidents.intake.inbound import Inbound, Intake, Pending
    from crisiscast.incidents.intake.triage import config_from_playbook, triage
    from crisiscast.incidents.store.database import Store
    from crisiscast.playbook import load_playbook

    config = config_from_playbook(load_playbook(PLAYBOOK))
    began = time.perf_counter()
    for i in range(n):
        triage(TEXTS[i % len(TEXTS)], config)
    triage_ms = (time.perf_counter() - began) * 1000 / n
    store = Store(database_url)
    intake = Intake(store)

    def message(i: int, kind: str) -> Inbound:
        return Inbound("sms", f"{kind}-{i}", f"+66{kind[0]}{i:08d}", TEXTS[i % len(TEXTS)])

    began = time.perf_counter()
    for i in range(n):
        intake.receive(message(i, "one"), now=datetime.now(UTC))
    receive_ms = (time.perf_counter() - began) * 1000 / n
    began = time.perf_counter()
    for start in range(0, n, 20):
        now = datetime.now(UTC)
        intake.receive_many([Pending(message(i, "batch"), now) for i in range(start, start + 20)])
    batch_ms = (time.perf_counter() - began) * 1000 / n
    store.dispose()
    return triage_ms, receive_ms, batch_ms


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="10,20,50", help="comma-separated levels")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp folder")
    parser.add_argument(
        "--gc-tuning",
        action="store_true",
        help="gc.freeze() + a higher gen-0 threshold in the server process",
    )
    parser.add_argument("--no-bare", action="store_true",
                        help="skip the bare HTTP path's baseline at each level")  # fmt: skip
    parser.add_argument("--no-breakdown", action="store_true",
                        help="skip the in-process breakdown")  # fmt: skip
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"],
                        help="uvicorn's HTTP parser (auto: httptools when installed)")  # fmt: skip
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"],
                        help="uvicorn's event loop (auto: uvloop when installed)")  # fmt: skip
    parser.add_argument(
        "--profile", help="write the server's CPU profile, all threads, here (pip install yappi)"
    )
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (crisiscast serve --workers)")  # fmt: skip
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    levels = [int(level) for level in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="crisiscast-bench-") as tmp:
        home = Path(tmp)
        database_url = args.database_url or f"sqlite:///{home / 'bench.db'}"
        prepare_store(database_url)
        before = stored_count(database_url)
        env = _env(home, database_url) | {"BENCH_GC_TUNING": "1" if args.gc_tuning else "0"}
        env |= {"BENCH_HTTP": args.http, "BENCH_LOOP": args.loop,
                "BENCH_WORKERS": str(args.workers)}  # fmt: skip
        if args.profile:
            env["BENCH_PROFILE"] = str(Path(args.profile).resolve())
        port = _free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env)
        runs: list[tuple[int, dict[str, object]]] = []
        bare: list[tuple[int, dict[str, object]]] = []
        try:
            _wait_up(port, server)
            asyncio.run(fire(port, signed_requests(args.warmup, 90_000_000), levels[0]))
            for n, level in enumerate(levels):
                requests = signed_requests(args.count, n * 10_000_000)
                if not args.no_bare:  # same requests, same server, nothing behind the route
                    bare.append((level, asyncio.run(
                        fire(port, requests, level, BARE_PATH, server.pid))))  # fmt: skip
                runs.append((level, asyncio.run(fire(port, requests, level, server=server.pid))))
        finally:
            server.terminate()
            server.wait(timeout=30)
        report(args, database_url, runs, stored_count(database_url) - before - args.warmup, bare)


def report(
    args: argparse.Namespace,
    database_url: str,
    runs: list[tuple[int, dict[str, object]]],
    stored: int,
    bare: list[tuple[int, dict[str, object]]],
) -> None:
    backend = database_url.split(":", 1)[0].split("+")[0]
    gc_note = "gc tuned" if args.gc_tuning else "default gc"
    print(f"inbound SMS webhook (signed, triaged, case + TwiML reply), {backend}, {gc_note}, "
          f"http {args.http}, loop {args.loop}, {args.count} requests per level")  # fmt: skip
    print(f"  {'path':>5} {'concurrency':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'server CPU ms/req':>17} {'client CPU ms/req':>17}  statuses")  # fmt: skip
    accepted = 0
    rows = [("bare", level, result) for level, result in bare]
    rows += [("sms", level, result) for level, result in runs]
    rows.sort(key=lambda row: row[1])
    for path, level, result in rows:
        latencies = sorted(result["latencies"])  # type: ignore[call-overload]
        statuses: dict[int, int] = result["statuses"]  # type: ignore[assignment]
        wall: float = result["wall"]  # type: ignore[assignment]
        if path == "sms":
            accepted += statuses.get(200, 0)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"  {path:>5} {level:>11} {args.count / wall:>8,.0f} "
              f"{statistics.median(latencies):>8.1f} {p99:>8.1f} "
              f"{result['server_cpu_ms']:>17.3f} {result['client_cpu_ms']:>17.3f}  "
              f"{dict(sorted(statuses.items()))}")  # fmt: skip
    print(f"  stored {stored} of {accepted} accepted (lost: {accepted - stored})")
    if args.no_breakdown:
        return
    triage_ms, receive_ms, batch_ms = breakdown(database_url)
    print(f"  in-process per message: triage {triage_ms:.2f} ms; Intake.receive alone "
          f"{receive_ms:.2f} ms; in batches of 20 {batch_ms:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
