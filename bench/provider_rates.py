"""Provider rates: sender pools, SendGrid's request rate, and failover, against local providers.

A small asyncio HTTP/1.1 server (its own process, 127.0.0.1 only) speaks Twilio's Messages API
and SendGrid's v3 mail/send. It enforces a per-sender rate as a token bucket (GCRA: ``rate``
per second, a request may arrive up to ``--server-burst`` seconds ahead of its schedule for
jitter: 11 at once at 100/s, 2 at 10/s) and answers 429 + ``Retry-After`` above it. It counts
every accepted message by recipient (duplicates) and every over-rate answer by time; in the
failover scenario it answers 503 after N accepted messages (an outage). The client side is the
real path: contacts in a SQLite store, ``run_shard`` (ledger, in-flight marks, batches) and the
crisiscast channels on the official SDKs, pointed at the server's base URL.

Scenarios (``--only`` picks some):
- sms:      N SMS over 10 senders at 100/s each (configured 1,000/s), vs. the old fixed pacing
            (1 message/s: computed) and one sender of the pool alone (measured on 2,000);
- email:    N emails through batched SendGrid requests at a 10 requests/s limit;
- failover: N/10 SMS; the primary account answers 503 after a third of them, a second account
            takes the rest: time to switch, duplicates, missed.

Run:  python bench/provider_rates.py --sms 100000 --emails 100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

SID_A = "AC" + "a1" * 16
SID_B = "AC" + "b2" * 16
TOKEN = "bench-token-0123456789"  # noqa: S105 - a dummy for the local bench server
NOW = datetime(2026, 12, 4, tzinfo=UTC)


# --------------------------------------------------------------------------- the provider


@dataclass
class Limits:
    rate: float  # per sender (Twilio) or per account (SendGrid requests)
    burst_seconds: float
    fail_after: int | None = None


@dataclass
class Stats:
    accepted: Counter[str] = field(default_factory=Counter)  # recipient -> times accepted
    by_sender: Counter[str] = field(default_factory=Counter)
    over_rate: list[float] = field(default_factory=list)  # seconds since the first request
    requests: int = 0
    first: float | None = None
    last_accept: float = 0.0
    first_503: float | None = None
    failing: bool = False


class Provider:
    """The server's state: one GCRA per sender, the counters, the outage switch."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.stats = Stats()
        self.tat: dict[str, float] = {}
        self.serial = 0

    def admit(self, sender: str, now: float) -> float | None:
        """None if within the sender's rate (and counted), else seconds until it would be."""
        interval = 1.0 / self.limits.rate
        tolerance = self.limits.burst_seconds  # arrivals may come this much early (jitter)
        tat = max(self.tat.get(sender, now), now)
        if tat - tolerance > now + 1e-9:
            return tat - tolerance - now
        self.tat[sender] = tat + interval
        return None

    def twilio(self, form: dict[str, list[str]], now: float) -> tuple[int, dict[str, str], bytes]:
        sender = (form.get("MessagingServiceSid") or form.get("From") or ["?"])[0]
        to = form.get("To", ["?"])[0]
        if self.stats.failing:
            return 503, {}, b'{"status": 503, "message": "Service Unavailable", "code": 20500}'
        wait = self.admit(sender, now)
        if wait is not None:
            self.stats.over_rate.append(now - (self.stats.first or now))
            body = b'{"status": 429, "code": 20429, "message": "Too Many Requests"}'
            return 429, {"Retry-After": f"{max(wait, 0.001):.3f}"}, body
        self.serial += 1
        self._accepted(to, sender, now)
        body = json.dumps({"sid": f"SM{self.serial:032x}", "status": "queued"}).encode()
        return 201, {}, body

    def sendgrid(self, payload: dict[str, Any], now: float) -> tuple[int, dict[str, str], bytes]:
        if self.stats.failing:
            return 503, {}, b'{"errors": [{"message": "unavailable"}]}'
        wait = self.admit("account", now)
        if wait is not None:
            self.stats.over_rate.append(now - (self.stats.first or now))
            reset = time.time() + wait
            return 429, {"X-RateLimit-Reset": f"{reset:.3f}"}, b'{"errors": []}'
        self.serial += 1
        for person in payload.get("personalizations", []):
            self._accepted(person["to"][0]["email"], "account", now)
        return 202, {"X-Message-Id": f"msg{self.serial}"}, b""

    def _accepted(self, to: str, sender: str, now: float) -> None:
        stats = self.stats
        stats.accepted[to] += 1
        stats.by_sender[sender] += 1
        stats.last_accept = now
        total = sum(stats.by_sender.values())
        if self.limits.fail_after is not None and total >= self.limits.fail_after:
            stats.failing = True

    def report(self) -> dict[str, Any]:
        s = self.stats
        return {
            "requests": s.requests,
            "accepted": sum(s.accepted.values()),
            "recipients": len(s.accepted),
            "duplicates": sum(n - 1 for n in s.accepted.values() if n > 1),
            "over_rate": len(s.over_rate),
            "over_rate_after_1s": sum(1 for t in s.over_rate if t >= 1.0),
            "senders": len(s.by_sender),
            "first": s.first,
            "last_accept": s.last_accept,
            "recipients_list": list(s.accepted),
        }


async def _handle(provider: Provider, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:  # fmt: skip
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            lines = head.split(b"\r\n")
            for line in lines[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            now = time.monotonic()
            path = lines[0].split(b" ")[1].decode()
            provider.stats.requests += 1
            provider.stats.first = provider.stats.first or now
            if path.startswith("/stats"):
                status, headers, out = 200, {}, json.dumps(provider.report()).encode()
            elif path.endswith("/Messages.json"):
                status, headers, out = provider.twilio(parse_qs(body.decode()), now)
            else:
                status, headers, out = provider.sendgrid(json.loads(body or b"{}"), now)
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(out)}\r\n\r\n".encode()
                + out
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    finally:
        writer.close()


def serve(port: int, limits: Limits) -> None:
    """The provider process: serves until terminated. It asks for a higher CPU priority: on a
    shared machine, a provider process left waiting for a core stamps a backlog of requests
    with one arrival time and counts them as a burst the client never sent (a real provider
    is another machine)."""
    with contextlib.suppress(OSError):  # not permitted: measured as it is
        os.nice(-10)
    provider = Provider(limits)

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(provider, r, w), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Local:
    """A provider process on a free loopback port."""

    def __init__(self, limits: Limits) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = multiprocessing.Process(target=serve, args=(self.port, limits), daemon=True)

    def __enter__(self) -> Local:
        self.process.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the bench provider did not start")

    def stats(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/stats", timeout=10) as response:  # noqa: S310 - loopback
            result: dict[str, Any] = json.loads(response.read())
            return result

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(timeout=10)


# --------------------------------------------------------------------------- the client


def _store(directory: Path, count: int, channel: str) -> tuple[Any, int, dict[str, Any]]:
    """A migrated SQLite store with ``count`` contacts and one staged announcement."""
    import sqlite3

    from crisiscast.incidents.broadcast.decisions import Content
    from crisiscast.incidents.store import database as st

    url = f"sqlite:///{directory / 'bench.db'}"
    store = st.Store(url)
    store.upgrade()
    connection = sqlite3.connect(directory / "bench.db")
    with connection:
        connection.executemany(
            "INSERT INTO contacts (audience, phone, email, language) VALUES ('all', ?, ?, 'en')",
            ((f"+1555{i:07d}", f"p{i}@example.org") for i in range(count)),
        )
    connection.close()
    with store.session() as session:
        incident = st.create_incident(
            session, playbook_id="bench", playbook_path="bench.yaml", title="bench", params={},
            languages=["en"], exercise=False, now=NOW,
        )  # fmt: skip
        row = st.add_announcement(
            session, incident.id, announcement_id="warning", when="launch", channel=channel,
            language="en", subject="Flood" if channel == "email" else None,
            body="Flood warning: move to high ground", html=None, now=NOW,
        )  # fmt: skip
        content = Content(row.id, "en", "Flood warning: move to high ground",
                          "Flood" if channel == "email" else None, None)  # fmt: skip
        return store, incident.id, {"en": content}


def _shard(store: Any, incident: int, channel_name: str, count: int, channel: Any,
           contents: dict[str, Any]) -> tuple[float, Any]:  # fmt: skip
    from crisiscast.incidents.broadcast.decisions import reach
    from crisiscast.incidents.broadcast.sending import RetryPolicy, Shard, run_shard

    shard = Shard(incident, channel_name, (1, count), reach({}, channel_name))
    started = time.perf_counter()
    report = run_shard(store, shard, channel, contents, "en", RetryPolicy(base_seconds=0.2))
    return time.perf_counter() - started, report


def _ledger(store: Any) -> dict[str, int]:
    from sqlalchemy import text

    with store.session() as session:
        rows = session.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))
        return {str(status): int(n) for status, n in rows}


def _twilio(url: str, account: str, senders: int, rate: float) -> Any:
    from pydantic import SecretStr

    from crisiscast.channels.twilio_sms import TwilioSmsChannel
    from crisiscast.config import SenderRate, TwilioSettings

    pool = tuple(SenderRate(f"+1800555{i:04d}", rate) for i in range(senders))
    return TwilioSmsChannel(TwilioSettings(account, SecretStr(TOKEN), senders=pool),
                            base_url=url)  # fmt: skip


def sms(count: int, senders: int, rate: float, burst: float, baseline: int) -> None:
    configured = senders * rate
    print(
        f"\n## {count:,} SMS over {senders} senders at {rate:g}/s (configured {configured:,.0f}/s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store, incident, contents = _store(Path(tmp), count, "sms")
        with Local(Limits(rate, burst)) as provider:
            channel = _twilio(provider.url, SID_A, senders, rate)
            cpu = time.process_time()
            with channel:
                seconds, report = _shard(store, incident, "sms", count, channel, contents)
            cpu = time.process_time() - cpu
            stats = provider.stats()
        ledger = _ledger(store)
        store.dispose()
    window = stats["last_accept"] - stats["first"]
    achieved = (stats["accepted"] - 1) / window if window > 0 else math.inf
    print(f"wall {seconds:.1f} s; provider saw {stats['requests']:,} requests, accepted "
          f"{stats['accepted']:,} from {stats['senders']} senders in {window:.1f} s")  # fmt: skip
    print(f"achieved {achieved:,.0f}/s = {achieved / configured:.1%} of the configured "
          f"{configured:,.0f}/s (target >= 95%); end to end {count / seconds:,.0f}/s")  # fmt: skip
    print(f"duplicates {stats['duplicates']}; missed {count - stats['recipients']}; over-rate "
          f"(429) {stats['over_rate']} in all, {stats['over_rate_after_1s']} after the first "
          f"second; ledger {ledger}; report sent={report.sent} failed={report.failed}")  # fmt: skip
    print(f"client CPU (all threads: ledger + SDK + pacing): {cpu / count * 1e6:,.0f} us per SMS"
          f" = {cpu / count * configured:.0%} of one core at {configured:,.0f}/s")  # fmt: skip
    print(f"baseline, the old fixed pacing (1 message/s): {count:,} SMS take "
          f"{count / 3600:.1f} h; the pool is {configured:,.0f}x faster")  # fmt: skip
    if baseline:
        with tempfile.TemporaryDirectory() as tmp:
            store, incident, contents = _store(Path(tmp), baseline, "sms")
            with Local(Limits(rate, burst)) as provider:
                with _twilio(provider.url, SID_B, 1, rate) as channel:
                    one, _ = _shard(store, incident, "sms", baseline, channel, contents)
                single = provider.stats()
            store.dispose()
        span = single["last_accept"] - single["first"]
        print(f"baseline, one sender of the pool alone: {baseline:,} SMS in {one:.1f} s "
              f"({(single['accepted'] - 1) / span:,.0f}/s); {count:,} would take "
              f"{count / rate / 60:.0f} min")  # fmt: skip


def email(count: int, requests_per_second: float, burst: float, provider_share: float) -> None:
    from pydantic import SecretStr

    from crisiscast.channels.sendgrid_email import SendGridEmailChannel
    from crisiscast.config import SendGridSettings

    print(f"\n## {count:,} emails through SendGrid mail/send at {requests_per_second:g} "
          "requests/s")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store, incident, contents = _store(Path(tmp), count, "email")
        # provider_share < 1: the provider allows less than configured, so 429s must be honoured.
        allowed = requests_per_second * provider_share
        print(f"the provider allows {allowed:g} requests/s")
        with Local(Limits(allowed, burst)) as provider:
            settings = SendGridSettings(SecretStr("SG.bench"), "alerts@cc.example",
                                        requests_per_second=requests_per_second)  # fmt: skip
            with SendGridEmailChannel(settings, host=provider.url) as channel:
                seconds, report = _shard(store, incident, "email", count, channel, contents)
            stats = provider.stats()
        ledger = _ledger(store)
        store.dispose()
    accepted = channel.requests - channel.rate_limited
    print(f"{channel.requests} mail/send requests, {accepted} accepted "
          f"({count / max(1, accepted):,.0f} recipients each), in {seconds:.1f} s = "
          f"{count / seconds:,.0f} emails/s; 429s answered {stats['over_rate']}, honoured and "
          f"resent {channel.rate_limited}")  # fmt: skip
    print(f"duplicates {stats['duplicates']}; missed {count - stats['recipients']}; "
          f"ledger {ledger}; report sent={report.sent}")  # fmt: skip
    hours = count / allowed / 3600
    print(f"baseline, one request per email at the provider's limit: {hours:.1f} h")


def failover(count: int, senders: int, rate: float, burst: float) -> None:
    from crisiscast.channels.failover import CircuitBreaker, SmsFailover

    fail_after = count // 3
    print(f"\n## failover: {count:,} SMS; the primary answers 503 after {fail_after:,}")
    with tempfile.TemporaryDirectory() as tmp:
        store, incident, contents = _store(Path(tmp), count, "sms")
        with Local(Limits(rate, burst, fail_after=fail_after)) as primary_server, \
                Local(Limits(rate, burst)) as secondary_server:  # fmt: skip
            primary = _twilio(primary_server.url, SID_A, senders, rate)
            secondary = _twilio(secondary_server.url, SID_B, senders, rate)
            breaker = CircuitBreaker(threshold=3, cooldown=3600.0)
            with SmsFailover(primary, secondary, breaker) as channel:
                seconds, _ = _shard(store, incident, "sms", count, channel, contents)
            one, two = primary_server.stats(), secondary_server.stats()
        ledger = _ledger(store)
        store.dispose()
    switch = two["first"] - one["last_accept"] if two["first"] else math.nan
    both = Counter(one["recipients_list"]) + Counter(two["recipients_list"])
    duplicates = sum(n - 1 for n in both.values() if n > 1)
    print(f"wall {seconds:.1f} s; primary accepted {one['accepted']:,}, secondary "
          f"{two['accepted']:,}; breaker trips {breaker.trips}")  # fmt: skip
    print(f"time to switch (primary's last accept -> secondary's first request): {switch:.2f} s")
    print(f"duplicates {duplicates} (across both accounts); missed {count - len(both)}; "
          f"ledger {ledger}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=100_000)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="per sender, per second")
    parser.add_argument("--server-burst", type=float, default=0.1,
                        help="the provider's tolerance, in seconds of a sender's rate")  # fmt: skip
    parser.add_argument("--baseline", type=int, default=2_000, help="SMS for the 1-sender run")
    parser.add_argument("--sendgrid-rate", type=float, default=10.0)
    parser.add_argument("--only", nargs="*", choices=["sms", "email", "failover"])
    args = parser.parse_args()
    chosen = set(args.only or ["sms", "email", "failover"])
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}; {os.cpu_count()} cores")
    if "sms" in chosen:
        sms(args.sms, args.senders, args.rate, args.server_burst, args.baseline)
    if "email" in chosen:
        email(args.emails, args.sendgrid_rate, 0.1, 1.0)
        email(max(1, args.emails // 5), args.sendgrid_rate, 0.1, 0.5)
    if "failover" in chosen:
        failover(max(1, args.sms // 10), args.senders, args.rate, args.server_burst)
    print(f"\nload average at the end (1, 5, 15 min): {os.getloadavg()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
