"""Inbound-SMS webhook throughput and latency, and a check that nothing accepted is lost.

Run from the repository root:

    python bench/webhooks.py [--count 5000] [--concurrency 20] [--database-url URL]

The real app (``crisiscast.web.create_app``) runs under uvicorn in its own process on
127.0.0.1, with a fresh SQLite store (or ``--database-url``, e.g. PostgreSQL) holding one active
regional-flood incident. This process signs every request with twilio's RequestValidator
beforehand, then posts them with aiohttp at a fixed concurrency, each from a different number
(each opens its own case and gets its own acknowledgement: the expensive path). It prints
requests/s, p50/p99 latency, the count of stored messages against the 200s (0 lost), and an
in-process breakdown of where a request's time goes (triage; store + triage + case + reply).
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "playbooks" / "regional-flood.yaml"
TOKEN = "bench-twilio-auth-token"
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


def serve(port: int) -> None:
    """The server process: the real app, as ``crisiscast serve`` builds it."""
    import uvicorn

    from crisiscast.config import load_settings
    from crisiscast.web import create_app

    app = create_app(load_settings(), "bench-launch-token")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def prepare_store(database_url: str) -> None:
    """Migrate and add one active incident of the regional-flood playbook."""
    from crisiscast.incidents.store import Store, create_incident

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


async def fire(port: int, requests: list[tuple[bytes, str]], concurrency: int) -> dict[str, object]:
    """Post every request at ``concurrency``; latencies in ms, status counts, wall time."""
    url = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
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
    return {"latencies": latencies, "statuses": statuses, "wall": wall}


def stored_count(database_url: str) -> int:
    from crisiscast.incidents.models import InboundMessage
    from crisiscast.incidents.store import Store

    store = Store(database_url)
    with store.session() as session:
        n = int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)
    store.dispose()
    return n


def breakdown(database_url: str, n: int = 500) -> tuple[float, float]:
    """Mean ms per message: triage alone, and Intake.receive (2 commits + triage + case)."""
    from crisiscast.incidents.intake import Inbound, Intake
    from crisiscast.incidents.store import Store
    from crisiscast.incidents.triage import config_from_playbook, triage
    from crisiscast.playbook import load_playbook

    config = config_from_playbook(load_playbook(PLAYBOOK))
    began = time.perf_counter()
    for i in range(n):
        triage(TEXTS[i % len(TEXTS)], config)
    triage_ms = (time.perf_counter() - began) * 1000 / n
    store = Store(database_url)
    intake = Intake(store)
    began = time.perf_counter()
    for i in range(n):
        message = Inbound("sms", f"breakdown-{i}", f"+6682{i:07d}", TEXTS[i % len(TEXTS)])
        intake.receive(message, now=datetime.now(UTC))
    receive_ms = (time.perf_counter() - began) * 1000 / n
    store.dispose()
    return triage_ms, receive_ms


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
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp folder")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory(prefix="crisiscast-bench-") as tmp:
        home = Path(tmp)
        database_url = args.database_url or f"sqlite:///{home / 'bench.db'}"
        prepare_store(database_url)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)], env=_env(home, database_url)
        )
        try:
            _wait_up(port, server)
            warm = signed_requests(args.warmup, 10_000_000)
            asyncio.run(fire(port, warm, args.concurrency))
            timed = signed_requests(args.count, 0)
            result = asyncio.run(fire(port, timed, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=30)
        report(args, database_url, result)


def report(args: argparse.Namespace, database_url: str, result: dict[str, object]) -> None:
    latencies = sorted(result["latencies"])  # type: ignore[call-overload]
    statuses: dict[int, int] = result["statuses"]  # type: ignore[assignment]
    wall: float = result["wall"]  # type: ignore[assignment]
    accepted = statuses.get(200, 0)
    stored = stored_count(database_url) - args.warmup
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    backend = database_url.split(":", 1)[0]
    print(f"inbound SMS webhook, {backend}, {args.count} requests, concurrency {args.concurrency}")
    print(f"  requests/s      {args.count / wall:,.0f}")
    print(f"  latency p50     {statistics.median(latencies):.1f} ms")
    print(f"  latency p99     {p99:.1f} ms")
    print(f"  statuses        {dict(sorted(statuses.items()))}")
    print(f"  stored          {stored} of {accepted} accepted (lost: {accepted - stored})")
    triage_ms, receive_ms = breakdown(database_url)
    print(f"  in-process: triage {triage_ms:.2f} ms/msg; intake.receive {receive_ms:.2f} ms/msg")


if __name__ == "__main__":
    main()
