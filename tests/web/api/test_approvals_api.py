"""The two-person rule through ``/api/v1``: a launch that needs approval sends nothing until a
second commander or comms user approves it; the requester, the CLI's token, agents and
viewers cannot approve. Real Prefect flow runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import OUTAGE, Api
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import func, select

from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Contact, Delivery


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API for the flows the approvals run."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def guarded(tmp_path: Path) -> Path:
    """The saas-outage playbook with ``approval: required``."""
    path = tmp_path / "guarded-outage.yaml"
    path.write_text(OUTAGE.read_text(encoding="utf-8") + "\napproval: required\n")
    return path


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(
        "name,phone,email,language\n"
        "Ann,+1 415 555 2671,ann@example.com,en\n"
        "Bo,+1 415 555 2672,bo@example.com,en\n"
    )
    return path


def _count(store: Store, what: object) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


def _sms_lines(home: Path, ref: str) -> list[dict[str, object]]:
    path = home / "outbox" / ref / "sms.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_launch_waits_for_a_second_person(
    api: Api, store: Store, home: Path, guarded: Path, contacts: Path
) -> None:
    """Nothing is opened, imported or sent until another commander or comms user approves;
    the requester's own approval, the CLI's, an agent's and a viewer's are refused (403)."""
    body = {
        "playbook": str(guarded),
        "params": {"service": "Payments API"},
        "audience": str(contacts),
        "sms_price": 0.01,
    }
    asked = api.post("/incidents", "commander", json=body)
    assert asked.status_code == 202 and asked.json()["status"] == "pending_approval"
    approval = asked.json()["approval"]
    preview = approval["preview"]
    sms = [r for r in preview["reach"] if r["channel"] == "sms"]
    assert sms == [
        {
            "channel": "sms",
            "language": "en",
            "reached": 2,
            "opted_out": 0,
            "no_address": 0,
            "fallback": 0,
        }
    ]
    sms_message = next(m for m in preview["messages"] if m["channel"] == "sms")
    assert sms_message["segments"] >= 1 and sms_message["recipients"] == 2
    assert preview["sms_cost"] == pytest.approx(preview["sms_segments"] * 0.01)

    assert api.get("/incidents").json()["items"] == []
    assert _count(store, Delivery) == 0 and _count(store, Contact) == 0
    assert not (home / "outbox").exists() or not any((home / "outbox").rglob("*.jsonl"))

    path = "/approvals/{approval_id}/approve"
    own = api.post(path, "commander", json={}, approval_id=approval["id"])
    assert own.status_code == 403 and "requested by you" in own.json()["detail"]
    assert api.post(path, "cli", json={}, approval_id=approval["id"]).status_code == 403
    assert api.post(path, "viewer", json={}, approval_id=approval["id"]).status_code == 403
    assert api.post(path, "agent", json={}, approval_id=approval["id"]).status_code == 403
    assert _count(store, Delivery) == 0

    seen = api.get("/approvals", "comms").json()["items"]
    assert [a["id"] for a in seen] == [approval["id"]] and seen[0]["preview"] == preview

    done = api.post(
        path, "comms", json={"reason": "checked the wording"}, approval_id=approval["id"]
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "approved" and done.json()["result"]["ref"] == "INC-1"
    assert len(_sms_lines(home, "INC-1")) == 2
    again = api.post(path, "commander2", json={}, approval_id=approval["id"])
    assert again.status_code == 409
    assert api.get("/approvals", "comms").json()["items"] == []

    log = api.get("/audit").json()["items"]
    assert [(e["action"], e["actor"]) for e in log] == [
        ("launch.requested", "user:1 commander"),
        ("approve", "user:2 comms"),
        ("launch", "user:2 comms"),
    ]
    assert log[2]["detail"]["approval_id"] == approval["id"] and log[2]["incident"] == "INC-1"
    summary = api.get("/incidents/{ref}/deliveries", ref="INC-1").json()
    assert {"channel": "sms", "language": "en", "status": "sent", "count": 2} in summary["rows"]


def test_exercise_is_waived_and_updates_wait_or_are_rejected(
    api: Api, store: Store, home: Path, guarded: Path, contacts: Path
) -> None:
    """An exercise launches at once; its updates too. A real incident's update asked by the
    CLI waits, a rejection sends nothing, and the requester's own rejection is a cancel."""
    body = {
        "playbook": str(guarded),
        "params": {"service": "Payments API"},
        "audience": str(contacts),
        "exercise": True,
    }
    launched = api.post("/incidents", json=body)
    assert launched.status_code == 201 and launched.json()["incident"]["exercise"] is True
    update = {"texts": {"en": "Fixed: payments work again"}}
    assert api.post("/incidents/{ref}/updates", json=update, ref="INC-1").json()["status"] == "done"

    real = api.post(
        "/incidents", json={**body, "exercise": False, "send": False}, who="cli"
    ).json()["approval"]
    approved = api.post(
        "/approvals/{approval_id}/approve", "commander", json={}, approval_id=real["id"]
    ).json()
    ref = approved["result"]["ref"]
    assert ref == "INC-2"  # the CLI asked: any commander or comms user may approve
    waiting = api.post("/incidents/{ref}/updates", "comms", json=update, ref=ref)
    assert waiting.status_code == 202
    first = waiting.json()["approval"]
    assert first["preview"]["messages"][0]["text"] == "Fixed: payments work again"
    rejected = api.post(
        "/approvals/{approval_id}/reject",
        "commander",
        json={"reason": "wrong wording"},
        approval_id=first["id"],
    )
    assert rejected.json()["status"] == "rejected"
    second = api.post("/incidents/{ref}/recall", "commander", ref=ref).json()["approval"]
    withdrawn = api.post(
        "/approvals/{approval_id}/reject", "commander", json={}, approval_id=second["id"]
    )
    assert withdrawn.json()["status"] == "cancelled"
    assert _sms_lines(home, ref) == []
    statuses = {
        a["id"]: a["status"]
        for a in api.get("/approvals", params={"status": "all"}).json()["items"]
    }
    assert statuses == {real["id"]: "approved", first["id"]: "rejected", second["id"]: "cancelled"}
