"""The app under a real uvicorn on loopback, with concurrent clients: what a TestClient cannot
show (requests really overlapping, the writer thread's shared batches, the event loop's latency).
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import sys
import time
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from live_app import serve_app
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from crisiscast.config import InboundEmailSettings, Settings, TwilioSettings, load_settings
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.incidents.store.models import Case, InboundMessage
from crisiscast.web.app import create_app
from crisiscast.web.serving import uvicorn_options
from crisiscast.web.webhooks import _twiml

TOKEN = "twilio-auth-token-for-live-tests"
PUBLIC = "https://crisis.example.org"
FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
MAIL_USER, MAIL_PASSWORD = "parse", "inbound-secret"


@pytest.fixture
def live(tmp_path: Path, store: Store) -> Iterator[str]:
    """``crisiscast serve``'s app under uvicorn on 127.0.0.1, on the test store; its base URL."""
    with store.session() as session:
        create_incident(
            session, playbook_id="regional-flood", playbook_path=str(FLOOD), title="Flood",
            params={"area": "Riverside"}, languages=["en", "th", "lo"], exercise=False,
            now=datetime.now(UTC),
        )  # fmt: skip
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006")
    inbound = InboundEmailSettings(MAIL_USER, SecretStr(MAIL_PASSWORD))
    settings = Settings(
        tmp_path, str(store.url.render_as_string(hide_password=False)), twilio=twilio,
        public_url=PUBLIC, inbound_email=inbound,
    )  # fmt: skip
    with serve_app(create_app(settings, "launch-token"), settings) as base:
        yield base


def signed_sms(sid: str, sender: str, body: str) -> tuple[bytes, dict[str, str]]:
    params = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio/sms", params)
    headers = {"X-Twilio-Signature": signature,
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    return urlencode(params).encode(), headers


async def post_all(base: str, requests: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    """Post every request at once; their statuses in order."""
    async with aiohttp.ClientSession() as session:

        async def one(body: bytes, headers: dict[str, str]) -> int:
            async with session.post(f"{base}/webhooks/twilio/sms", data=body,
                                    headers=headers) as response:  # fmt: skip
                await response.read()
                return response.status

        return await asyncio.gather(*(one(body, headers) for body, headers in requests))


def stored(store: Store) -> dict[str, InboundMessage]:
    with store.session() as session:
        return {m.provider_id or "": m for m in session.scalars(select(InboundMessage))}


def test_one_nul_byte_never_fails_the_other_messages(live: str, store: Store) -> None:
    """Forty SMS at once, one with NUL in its body and one with NUL in its sender: all forty
    are answered 200 and stored; the NULs are kept as U+FFFD and the cases say so."""
    requests = [signed_sms(f"SM{n:032x}", f"+6681{n:07d}", f"we need water {n}") for n in range(38)]
    requests.insert(17, signed_sms("SM" + "e" * 32, "+66810000999", "trapped\x00 on the roof"))
    requests.insert(29, signed_sms("SM" + "f" * 32, "+6681\x000000998", "no food"))
    statuses = asyncio.run(post_all(live, requests))
    assert statuses == [200] * 40
    messages = stored(store)
    assert len(messages) == 40
    assert messages["SM" + "e" * 32].body == "trapped\ufffd on the roof"
    assert messages["SM" + "f" * 32].sender == "+6681\ufffd0000998"
    with store.session() as session:
        flagged = [c.why for c in session.scalars(select(Case)) if c.why and "repaired" in c.why]
    assert sorted(sorted(w["repaired"]) for w in flagged) == [["body"], ["sender"]]


def test_the_reply_form_limit_ignores_forwarded_for_from_an_untrusted_peer(
    live: str, store: Store
) -> None:
    """Forty posts from one address, each claiming another X-Forwarded-For: the per-client
    limit (30 a minute) still applies, since no proxy is trusted unless configured."""

    async def flood() -> list[int]:
        async with aiohttp.ClientSession() as session:
            codes = []
            for n in range(40):
                form = {"contact": f"person{n}@example.com", "message": f"help {n}"}
                headers = {"X-Forwarded-For": f"203.0.113.{n}"}
                async with session.post(f"{live}/incidents/INC-1/reply", data=form,
                                        headers=headers) as response:  # fmt: skip
                    await response.read()
                    codes.append(response.status)
            return codes

    codes = asyncio.run(flood())
    assert codes == [200] * 30 + [429] * 10


def test_serve_believes_forwarded_headers_only_from_the_configured_proxies(tmp_path: Path) -> None:
    """No proxy is trusted by default (not even 127.0.0.1); CRISISCAST_FORWARDED_ALLOW_IPS
    names the ones that are."""
    default = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    assert uvicorn_options(default) == {"proxy_headers": False, "forwarded_allow_ips": ""}
    proxies = " 10.0.0.7, 192.168.0.0/16 "
    behind = load_settings({"CRISISCAST_HOME": str(tmp_path),
                            "CRISISCAST_FORWARDED_ALLOW_IPS": proxies})  # fmt: skip
    assert uvicorn_options(behind) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.7,192.168.0.0/16",
    }


# Posts three ~4.6 MB Inbound Parse emails at once, three rounds, from another process (so that
# building and sending them costs the server nothing), one of each three mostly text; prints
# their statuses.
EMAILS = r"""
import json, sys, threading, urllib.request
url, auth = sys.argv[1], sys.argv[2]
def post(n, text, attachment):
    b = "crisiscastboundary%d" % n
    fields = {"from": "Nok %d <nok%d@example.com>" % (n, n), "to": "help@crisis.example.org",
              "subject": "Flood photos", "text": text,
              "headers": "Message-ID: <big%d@example.com>\nFrom: nok%d@example.com\n" % (n, n),
              "charsets": json.dumps({"text": "UTF-8", "subject": "UTF-8"})}
    parts = [("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
              % (b, k, v)).encode() for k, v in fields.items()]
    parts.append(("--%s\r\nContent-Disposition: form-data; name=\"attachment1\"; "
                  "filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" % b).encode()
                 + attachment + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % b).encode()
    request = urllib.request.Request(url, data=body, headers={
        "Authorization": auth, "Content-Type": "multipart/form-data; boundary=" + b})
    with urllib.request.urlopen(request, timeout=60) as response:
        statuses[n] = response.status
statuses = {}
photo = b"\xff\xd8\xff" + b"\x01\r\n-" * 1_150_000
jobs = [(0, "the water is at the first floor, we are trapped\n" * 94_000, b""),
        (1, "the water is at the first floor\n" * 200, photo),
        (2, "the water is at the first floor\n" * 200, photo)]
for round in range(3):
    threads = [threading.Thread(target=post, args=(round * 3 + n, text, photo))
               for n, text, photo in jobs]
    for t in threads: t.start()
    for t in threads: t.join()
print(json.dumps([statuses.get(n) for n in range(9)]))
"""


def test_large_emails_do_not_hold_up_sms(live: str, store: Store) -> None:
    """Three 4.6 MB Inbound Parse posts arrive at once, three times over (one of each three
    4.6 MB of text, two a photo); SMS sent meanwhile, one after another, are answered within
    100 ms (p99), and everything is stored."""
    auth = "Basic " + b64encode(f"{MAIL_USER}:{MAIL_PASSWORD}".encode()).decode()

    async def run() -> tuple[list[int], list[float], list[float]]:
        async with aiohttp.ClientSession() as session:

            async def sms(n: int) -> float:
                body, headers = signed_sms(f"SM{n:032x}", f"+6681{n:07d}", f"need water {n}")
                began = time.perf_counter()
                async with session.post(f"{live}/webhooks/twilio/sms", data=body,
                                        headers=headers) as response:  # fmt: skip
                    await response.read()
                    assert response.status == 200
                return (time.perf_counter() - began) * 1000

            await sms(99_999)  # warm: the first message loads the playbook and the model
            alone = [await sms(90_000 + n) for n in range(20)]
            emails = await asyncio.create_subprocess_exec(
                sys.executable, "-c", EMAILS, f"{live}/webhooks/sendgrid/inbound", auth,
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            output = asyncio.ensure_future(emails.communicate())
            latencies: list[float] = []
            deadline = time.monotonic() + 60
            while not output.done() and time.monotonic() < deadline:
                latencies.append(await sms(len(latencies)))
                await asyncio.sleep(0.01)
            stdout, _ = await output
            return json.loads(stdout), alone, latencies

    # `crisiscast serve` freezes what it loaded and collects rarely (gc.freeze, thresholds);
    # here the server shares the test process, whose heap after a thousand tests makes a full
    # collection take over a second: freeze it too, so the figure is the server's own.
    gc.collect()
    gc.freeze()
    try:
        statuses, alone, latencies = asyncio.run(run())
    finally:
        gc.unfreeze()
    assert statuses == [200] * 9
    quiet, ordered = sorted(alone), sorted(latencies)
    p99 = ordered[math.ceil(len(ordered) * 0.99) - 1]  # nearest rank
    print(
        f"SMS alone: p50 {quiet[10]:.1f} ms, max {quiet[-1]:.1f} ms; during the emails "
        f"(n={len(ordered)}): p50 {ordered[len(ordered) // 2]:.1f} ms, p99 {p99:.1f} ms"
    )
    # Before, an SMS waited behind the emails' triage in the one writer: 1.1-1.9 s here. The
    # 100 ms p99 target is measured on a quiet machine (see BENCHMARKS.md); this test pins the
    # behaviour with room for a busy CI machine: the emails may add at most 400 ms to the
    # slowest SMS sent without them, far below the second the SMS used to wait.
    assert len(ordered) >= 10 and p99 < 400 + quiet[-1]
    assert len(stored(store)) == 1 + 20 + 9 + len(latencies)


@pytest.mark.parametrize(
    "text", [None, "", "case 42: call 1669", "a & <b> \"q\" 's' ข\r\nok", "]]> &amp; \x7f"]
)
def test_twiml_is_what_twilio_writes(text: str | None) -> None:
    """The SMS answer is built as a string, exactly as twilio's MessagingResponse writes it."""
    twiml = MessagingResponse()
    if text:
        twiml.message(text)
    assert bytes(_twiml(text).body) == str(twiml).encode()
