"""The webhooks' writer thread: concurrent messages share commits, each gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session

from crisiscast.errors import StoreError
from crisiscast.incidents.intake import inbound
from crisiscast.incidents.intake import queries as sql
from crisiscast.incidents.intake.inbound import (
    Inbound,
    Intake,
    IntakeResult,
    MessageRefused,
    Pending,
)
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.incidents.store.models import Case, InboundMessage, TimelineEvent
from crisiscast.web.intake_queue import IntakeQueue

FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class CountingIntake(Intake):
    """The real intake, remembering how many messages each batch carried."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.batches: list[int] = []

    def receive_each(self, batch: Sequence[Pending]) -> list[IntakeResult | Exception]:
        self.batches.append(len(batch))
        return super().receive_each(batch)


@pytest.fixture
def intake(store: Store) -> CountingIntake:
    with store.session() as session:
        create_incident(
            session, playbook_id="regional-flood", playbook_path=str(FLOOD), title="Flood",
            params={}, languages=["en", "th", "lo"], exercise=False, now=NOW,
        )  # fmt: skip
    return CountingIntake(store)


def pending(n: int) -> Pending:
    return Pending(Inbound("sms", f"SM{n:04d}", f"+668100{n:05d}", f"we need water {n}"), NOW)


def test_concurrent_messages_share_batches_and_get_their_own_results(
    intake: CountingIntake,
) -> None:
    """Fifty requests at once: fewer batches than messages, and each its own case."""

    async def burst() -> list[IntakeResult]:
        queue = IntakeQueue(intake)
        return await asyncio.gather(*(queue.submit(pending(n)) for n in range(50)))

    results = asyncio.run(burst())
    assert sum(intake.batches) == 50 and len(intake.batches) < 50
    assert len({r.case_id for r in results}) == 50
    assert all(r.outcome == "case" and r.reply for r in results)


def test_a_store_that_is_down_fails_every_waiting_request(
    intake: CountingIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that cannot be reached reaches each waiting request as a StoreError (the
    webhook's 503, which providers retry), at once: no message would fare better alone."""

    def down(*_args: object) -> None:
        raise OperationalError("INSERT ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sql, "insert_messages", down)

    async def burst() -> list[IntakeResult | BaseException]:
        queue = IntakeQueue(intake)
        return await asyncio.gather(*(queue.submit(pending(n)) for n in range(5)),
                                    return_exceptions=True)  # fmt: skip

    assert all(isinstance(r, StoreError) for r in asyncio.run(burst()))


def test_a_message_the_database_refuses_fails_alone(
    intake: CountingIntake, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose insert fails because of one message is redone one by one: that message
    gets MessageRefused (the webhook's 400), the nineteen others are stored and answered."""
    real = sql.insert_messages

    def refuse_poison(session: Session, rows: Sequence[dict[str, Any]]) -> dict[Any, int]:
        if any(row["body"] == "poison" for row in rows):
            raise DataError("INSERT ...", {}, Exception("value too long"))
        return real(session, rows)

    monkeypatch.setattr(sql, "insert_messages", refuse_poison)
    batch = [pending(n) for n in range(20)]
    batch[7] = Pending(Inbound("sms", "SM-poison", "+66810009999", "poison"), NOW)
    results = intake.receive_each(batch)
    assert isinstance(results[7], MessageRefused)
    assert all(isinstance(r, IntakeResult) and r.outcome == "case"
               for n, r in enumerate(results) if n != 7)  # fmt: skip
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 19


def test_a_message_whose_processing_fails_is_still_stored(
    intake: CountingIntake, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Triage failing on one message leaves it stored ("stored": the webhook's 2xx, since it
    is kept) and the others of its batch get their cases."""
    real = inbound.triage

    def explode(body: str, config: Any) -> Any:
        if body == "explode":
            raise RuntimeError("a bug in triage")
        return real(body, config)

    monkeypatch.setattr(inbound, "triage", explode)
    batch = [pending(n) for n in range(10)]
    batch[3] = Pending(Inbound("sms", "SM-explode", "+66810008888", "explode"), NOW)
    results = intake.receive_each(batch)
    outcomes = [r.outcome for r in results if isinstance(r, IntakeResult)]
    assert outcomes == ["case"] * 3 + ["stored"] + ["case"] * 6
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 10
        assert session.scalar(select(func.count()).select_from(Case)) == 9


def test_nul_and_lone_surrogates_are_stored_as_replacement_characters(
    intake: CountingIntake, store: Store
) -> None:
    """What PostgreSQL refuses is repaired per message and flagged; the batch is unharmed."""
    batch = [pending(n) for n in range(5)]
    batch[2] = Pending(Inbound("sms", "SM\x00nul", "+66810007777", "help\x00 \ud800"), NOW)
    results = intake.receive_each(batch)
    assert all(isinstance(r, IntakeResult) and r.outcome == "case" for r in results)
    with store.session() as session:
        message = session.scalars(select(InboundMessage).where(
            InboundMessage.sender == "+66810007777")).one()  # fmt: skip
        case = session.get(Case, message.case_id)
        events = session.scalars(select(TimelineEvent.kind)).all()
    assert message.body == "help\ufffd \ufffd" and message.provider_id == "SM\ufffdnul"
    assert case is not None and case.why is not None
    assert case.why["repaired"] == ["provider_id", "body"]
    assert "inbound_repaired" in events
