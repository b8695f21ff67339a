"""Shard claims: runners share a broadcast's shards, and a dead runner's shard is taken over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisiscast.incidents.broadcast import shard_claims as sc
from crisiscast.incidents.store.database import Store, create_incident

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
LEASE = 30.0
WORK = [sc.ShardWork("warning", "sms", (1, 100)), sc.ShardWork("warning", "sms", (101, 200)),
        sc.ShardWork("warning", "x", None)]  # fmt: skip


@pytest.fixture
def run(store: Store) -> str:
    """A broadcast run of three shards, all pending."""
    with store.session() as session:
        incident = create_incident(
            session, playbook_id="p", playbook_path="p.yaml", title="Flood", params={},
            languages=["en"], exercise=True, now=NOW,
        )  # fmt: skip
        sc.plan_run(session, "run-1", incident.id, WORK, now=NOW)
    return "run-1"


def claim(store: Store, run: str, owner: str, now: datetime) -> sc.Claim | None:
    with store.session() as session:
        return sc.claim_next(session, run, owner, LEASE, now=now)


def progress(store: Store, run: str, now: datetime) -> sc.RunProgress:
    with store.session() as session:
        return sc.progress_of(session, run, LEASE, now=now)


def test_two_runners_take_different_shards_until_none_is_left(store: Store, run: str) -> None:
    first, second = claim(store, run, "a:1", NOW), claim(store, run, "b:2", NOW)
    third, none = claim(store, run, "a:1", NOW), claim(store, run, "b:2", NOW)

    assert first and second and third
    assert [first.work, second.work, third.work] == WORK
    assert none is None  # all held, leases running: nothing to take
    assert not (first.taken_over or second.taken_over or third.taken_over)
    assert progress(store, run, NOW) == sc.RunProgress(3, 0, 3, 0, 0)


def test_a_shard_whose_lease_passed_is_taken_over_and_its_old_owner_told(
    store: Store, run: str
) -> None:
    held = claim(store, run, "dead:1", NOW)
    assert held is not None
    later = NOW + timedelta(seconds=LEASE + 1)
    for _ in WORK[1:]:  # the live runner takes the others, renewing as it sends
        other = claim(store, run, "live:2", NOW)
        assert other is not None
        with store.session() as session:
            assert sc.renew(session, other.id, "live:2", LEASE, now=later)

    taken = claim(store, run, "live:2", later)

    assert taken is not None and taken.id == held.id and taken.taken_over
    with store.session() as session:
        assert not sc.renew(session, held.id, "dead:1", LEASE, now=later)  # must stop sending
        assert sc.renew(session, held.id, "live:2", LEASE, now=later)


def test_a_renewed_lease_keeps_the_shard(store: Store, run: str) -> None:
    held = claim(store, run, "a:1", NOW)
    assert held is not None
    renewed = NOW + timedelta(seconds=LEASE - 1)
    with store.session() as session:
        assert sc.renew(session, held.id, "a:1", LEASE, now=renewed)
    for _ in WORK[1:]:
        assert claim(store, run, "b:2", renewed) is not None
    assert claim(store, run, "b:2", NOW + timedelta(seconds=LEASE + 1)) is None


def test_done_shards_report_and_a_released_one_is_claimed_again(store: Store, run: str) -> None:
    first, second = claim(store, run, "a:1", NOW), claim(store, run, "a:1", NOW)
    assert first and second
    with store.session() as session:
        sc.complete(session, first.id, {"channel": "sms", "sent": 100}, now=NOW)
        sc.release(session, second.id, "a:1", now=NOW)  # stopped (Ctrl-C): not done

    again = claim(store, run, "b:2", NOW)

    assert again is not None and again.id == second.id
    with store.session() as session:
        assert sc.reports_of(session, run) == [{"channel": "sms", "sent": 100}]
    assert progress(store, run, NOW).done == 1


def test_another_runner_is_needed_only_when_shards_are_left_with_nobody_on_them() -> None:
    finished = sc.RunProgress(total=3, done=3, running=0, pending=0, abandoned=0)
    busy = sc.RunProgress(total=3, done=1, running=2, pending=0, abandoned=0)
    abandoned = sc.RunProgress(total=3, done=1, running=2, pending=0, abandoned=1)
    waiting = sc.RunProgress(total=3, done=0, running=0, pending=3, abandoned=0)

    assert not sc.needs_runner(finished, 999, patience=60)
    assert not sc.needs_runner(busy, 999, patience=60)
    assert sc.needs_runner(abandoned, 61, patience=60)
    assert not sc.needs_runner(abandoned, 10, patience=60)  # one was just started
    assert sc.needs_runner(waiting, 61, patience=60)
    assert not sc.needs_runner(waiting, 10, patience=60)  # runners still starting
