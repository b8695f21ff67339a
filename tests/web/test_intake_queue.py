"""The webhooks' writer thread: concurrent messages share commits, each gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisiscast.errors import StoreError
from crisiscast.incidents.intake.inbound import Inbound, Intake, IntakeResult, Pending
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.web.intake_queue import IntakeQueue

FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class CountingIntake(Intake):
    """The real intake, remembering how many messages each batch carried."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.batches: list[int] = []

    def receive_many(self, batch: Sequence[Pending]) -> list[IntakeResult]:
        self.batches.append(len(batch))
        return super().receive_many(batch)


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


def test_a_failed_batch_fails_every_waiting_request(
    intake: CountingIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that is down reaches each waiting request as a StoreError (the webhook's 503)."""

    def down(_batch: Sequence[Pending]) -> list[IntakeResult]:
        raise StoreError("the incident store at sqlite:///x failed: disk I/O error")

    monkeypatch.setattr(intake, "receive_many", down)

    async def burst() -> list[IntakeResult | BaseException]:
        queue = IntakeQueue(intake)
        return await asyncio.gather(*(queue.submit(pending(n)) for n in range(5)),
                                    return_exceptions=True)  # fmt: skip

    assert all(isinstance(r, StoreError) for r in asyncio.run(burst()))
