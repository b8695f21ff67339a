"""The SLA sweep flow: paging, no-ACK release, escalation, reminders, scale-up and release."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "incidents"))
from desk_support import CUSTOMER, T0, make_agent, make_case, make_incident  # noqa: E402

from crisiscast.flows.sla_sweep import sla_sweep  # noqa: E402
from crisiscast.incidents import agents as ag  # noqa: E402
from crisiscast.incidents.agent_desk import handle_agent_message  # noqa: E402
from crisiscast.incidents.models import Agent, Case, Incident, TimelineEvent  # noqa: E402
from crisiscast.incidents.store import Store  # noqa: E402

M = timedelta(minutes=1)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CRISISCAST_HOME for the test: the outbox the sweep's SMS go to."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def db(db_url: str) -> Iterator[Store]:
    """The store the sweep runs against, with one active incident (INC-1)."""
    instance = Store(db_url)
    instance.upgrade()
    with instance.session() as session:
        make_incident(session)
    yield instance
    instance.dispose()


def sms(home: Path) -> list[dict[str, Any]]:
    """Every SMS the sweep sent (the outbox, as no credentials are set)."""
    path = home / "outbox" / "INC-1" / "sms.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sweep(db: Store, at: datetime, **options: Any) -> dict[str, int]:
    summary = sla_sweep(database_url=db.url.render_as_string(hide_password=False), now=at,
                        **options)  # fmt: skip
    return summary["INC-1"]


def incident(session: Session) -> Incident:
    return session.get_one(Incident, 1)


def kinds(db: Store, kind: str) -> list[dict[str, Any]]:
    with db.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.kind == kind)
        return [e.data or {} for e in session.scalars(query.order_by(TimelineEvent.id))]


def test_urgent_case_is_assigned_and_paged_once(db: Store, home: Path) -> None:
    """A waiting urgent case goes to the matching agent by SMS; a second sweep adds nothing."""
    with db.session() as session:
        make_agent(session, 1, languages=["en"])
        thai = make_agent(session, 2, languages=["th"])
        case = make_case(session, incident(session))
        low = make_case(session, incident(session), severity="low")
    assert sweep(db, T0 + M)["assigned"] == 1
    assert sweep(db, T0 + 2 * M).get("assigned", 0) == 0
    pages = sms(home)
    assert [p["address"] for p in pages] == [thai.phone]
    assert pages[0]["text"].startswith(f"URGENT case {case.id}")
    assert CUSTOMER not in pages[0]["text"]
    with db.session() as session:
        assert ag.holder_of(session, low.id) is None  # low cases wait for NEXT or the web queue
