"""Fixtures for the channel tests: Prism mocks of the providers' own specs (one per session)
and real local HTTP servers for faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from channel_servers import Prism, ScriptedServer, contract, prism_missing_reason, skip_unless_ci


def _start_prism(spec: str, *extra: str) -> Iterator[str]:
    reason = prism_missing_reason()
    if reason is not None:
        skip_unless_ci(reason)
    prism = Prism(contract(spec), *extra)
    try:
        prism.wait()
        yield prism.url
    finally:
        prism.stop()


@pytest.fixture(scope="session")
def prism_twilio() -> Iterator[str]:
    """Base URL of Prism serving Twilio's Api v2010 spec."""
    yield from _start_prism("twilio/twilio_api_v2010.json")


@pytest.fixture(scope="session")
def prism_sendgrid() -> Iterator[str]:
    """Base URL of Prism serving SendGrid's Mail v3 spec."""
    yield from _start_prism("sendgrid/tsg_mail_v3.json")


@pytest.fixture(scope="session")
def prism_x() -> Iterator[str]:
    """Base URL of Prism serving X's API v2 spec (--errors needs --dynamic, see SOURCES.md)."""
    yield from _start_prism("x/x_api_v2_openapi.json", "--errors", "--dynamic", "--seed", "7")


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
