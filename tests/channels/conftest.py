"""Fixtures for the channel tests: Prism mocks of the providers' own specs (one per session)
and real local HTTP servers for faults."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from channel_servers import CONTRACTS, Prism, ScriptedServer, prism_missing_reason


def _start_prism(spec: Path, *extra: str) -> Iterator[str]:
    reason = prism_missing_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    if not spec.exists():
        pytest.fail(f"contract spec {spec} is missing: see ../shared/contracts/SOURCES.md")
    prism = Prism(spec, *extra)
    try:
        prism.wait()
        yield prism.url
    finally:
        prism.stop()


@pytest.fixture(scope="session")
def prism_twilio() -> Iterator[str]:
    """Base URL of Prism serving Twilio's Api v2010 spec."""
    yield from _start_prism(CONTRACTS / "twilio" / "twilio_api_v2010.json")


@pytest.fixture(scope="session")
def prism_sendgrid() -> Iterator[str]:
    """Base URL of Prism serving SendGrid's Mail v3 spec."""
    yield from _start_prism(CONTRACTS / "sendgrid" / "tsg_mail_v3.json")


@pytest.fixture(scope="session")
def prism_x() -> Iterator[str]:
    """Base URL of Prism serving X's API v2 spec (--errors needs --dynamic, see SOURCES.md)."""
    yield from _start_prism(
        CONTRACTS / "x" / "x_api_v2_openapi.json", "--errors", "--dynamic", "--seed", "7"
    )


@pytest.fixture
def fault_server() -> Iterator[ScriptedServer]:
    """A real local HTTP server answering with the replies a test queues."""
    with ScriptedServer() as server:
        yield server


def recording_proxy(upstream: str) -> ScriptedServer:
    """A recorder in front of Prism: Prism validates, the recorder keeps what was sent."""
    return ScriptedServer(upstream=upstream)


@pytest.fixture
def twilio_proxy(prism_twilio: str) -> Iterator[ScriptedServer]:
    """Records each request and forwards it to the Twilio Prism mock."""
    with recording_proxy(prism_twilio) as proxy:
        yield proxy


@pytest.fixture
def sendgrid_proxy(prism_sendgrid: str) -> Iterator[ScriptedServer]:
    """Records each request and forwards it to the SendGrid Prism mock."""
    with recording_proxy(prism_sendgrid) as proxy:
        yield proxy


@pytest.fixture
def x_proxy(prism_x: str) -> Iterator[ScriptedServer]:
    """Records each request and forwards it to the X Prism mock."""
    with recording_proxy(prism_x) as proxy:
        yield proxy
