"""SMS throughput through the twilio SDK channel vs raw HTTP clients, same local server, same run.

A minimal asyncio HTTP/1.1 server (keep-alive, answers every POST with a Twilio-like 201) runs
in its own process on 127.0.0.1, so the clients do not share its interpreter. Then, one after
another, each client sends the same number of Messages.json POSTs:

- the SDK path: ``TwilioSmsChannel.send`` (the twilio SDK's async interface on aiohttp, one
  request in flight per channel), its batch size, T threads with a channel each;
- raw httpx: ``httpx.Client`` POSTs with the same form and basic auth, T threads;
- raw httpx async (concurrency 10) and, if installed, aiohttp (concurrency 100), for reference.
  httpx comes with Prefect; aiohttp is optional.

Run:  python bench/sdk_throughput.py --messages 20000 --threads 8
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import socket
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "bench-token-0123456789"  # noqa: S105 - a dummy for the local bench server
PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"
BODY = (
    b'{"sid": "SM00000000000000000000000000000000", "status": "queued", '
    b'"account_sid": "' + SID.encode() + b'", "to": "+15005550009", "body": "x"}'
)
RESPONSE = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
FORM = {"To": "+15005550009", "From": "+15005550006", "Body": "Flood warning: move to high ground"}


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read requests on one connection (headers, then Content-Length bytes); answer each 201."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    finally:
        writer.close()


def _serve(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the bench server on port {port} did not start within {timeout} s")


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _threads(count: int, threads: int, work: Callable[[int], int]) -> float:
    """Run ``work(n)`` on ``threads`` threads sharing ``count``; return seconds."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(work, _split(count, threads)))
    elapsed = time.perf_counter() - started
    if done != count:
        raise RuntimeError(f"sent {done} of {count}")
    return elapsed


def sdk(url: str, count: int, threads: int) -> float:
    """The crisiscast twilio channel (the official SDK) in batches of its batch size."""
    from pydantic import SecretStr

    from crisiscast.channels.base import OutgoingMessage
    from crisiscast.channels.twilio_sms import TwilioSmsChannel
    from crisiscast.config import SenderRate, TwilioSettings

    # One request in flight per thread, as the raw clients; no pacing (an unbounded sender).
    settings = TwilioSettings(
        account_sid=SID, auth_token=SecretStr(TOKEN), from_number=FORM["From"],
        senders=(SenderRate(FORM["From"], 1e9, 1e9),), concurrency=1,
    )  # fmt: skip

    def work(n: int) -> int:
        channel = TwilioSmsChannel(settings, base_url=url)
        sent = 0
        for start in range(0, n, channel.batch_size):
            batch = [
                OutgoingMessage(f"k{start + i}", FORM["To"], "en", FORM["Body"])
                for i in range(min(channel.batch_size, n - start))
            ]
            sent += sum(r.status == "sent" for r in channel.send(batch))
        channel.close()
        return sent

    return _threads(count, threads, work)


def raw_httpx(url: str, count: int, threads: int) -> float:
    """The same POSTs with httpx.Client, one client (connection pool) per thread."""
    import httpx

    def work(n: int) -> int:
        with httpx.Client(base_url=url, auth=(SID, TOKEN)) as client:
            return sum(client.post(PATH, data=FORM).status_code == 201 for _ in range(n))

    return _threads(count, threads, work)


async def _async_clients(url: str, count: int, concurrency: int, kind: str) -> float:
    shares = _split(count, concurrency)
    started = time.perf_counter()
    if kind == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, auth=(SID, TOKEN), limits=limits) as client:

            async def one(n: int) -> int:
                return sum([(await client.post(PATH, data=FORM)).status_code == 201
                            for _ in range(n)])  # fmt: skip

            done = sum(await asyncio.gather(*(one(n) for n in shares)))
    else:
        import aiohttp

        headers = {"Authorization": aiohttp.encode_basic_auth(SID, TOKEN)}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

            async def one(n: int) -> int:
                ok = 0
                for _ in range(n):
                    async with session.post(PATH, data=FORM) as response:
                        await response.read()
                        ok += response.status == 201
                return ok

            done = sum(await asyncio.gather(*(one(n) for n in shares)))
    if done != count:
        raise RuntimeError(f"sent {done} of {count}")
    return time.perf_counter() - started


def _row(name: str, count: int, seconds: float, reference: float | None = None) -> str:
    rate = count / seconds
    ratio = f"  ({rate / reference:.0%} of raw httpx, same threads)" if reference else ""
    return f"{name:<52} {seconds:6.2f} s  {rate:8,.0f} msg/s{ratio}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        _wait_for(port)
        url = f"http://127.0.0.1:{port}"
        n, t = args.messages, args.threads
        sdk(url, min(n, 500), t)  # warm-up: imports, connection pools
        raw = raw_httpx(url, n, t)
        through_sdk = sdk(url, n, t)
        httpx_async = asyncio.run(_async_clients(url, n, 10, "httpx"))
        aiohttp_async = (
            asyncio.run(_async_clients(url, n, 100, "aiohttp"))
            if importlib.util.find_spec("aiohttp")
            else None
        )
    finally:
        server.terminate()
        server.join(timeout=10)
    raw_rate = n / raw
    print(f"{n:,} SMS POSTs to a local asyncio HTTP server (own process), 127.0.0.1")
    print(_row(f"raw httpx.Client, {t} threads", n, raw))
    print(_row(f"twilio SDK channel (TwilioSmsChannel), {t} threads", n, through_sdk, raw_rate))
    print(_row("raw httpx.AsyncClient, concurrency 10", n, httpx_async))
    if aiohttp_async is None:
        print("raw aiohttp: not installed (optional; pip install aiohttp to compare)")
    else:
        print(_row("raw aiohttp, concurrency 100", n, aiohttp_async))
    print(f"command: {sys.executable} bench/sdk_throughput.py --messages {n} --threads {t}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
