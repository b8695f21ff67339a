"""Cases, agents, users and the audit log through ``/api/v1``, every answer checked against the
OpenAPI document (the ``api`` fixture does it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api_support import Api
from desk_support import make_agent, make_case, make_incident

from crisiscast.incidents.store.database import Store


def _seed(store: Store) -> None:
    """INC-1 (an exercise) with an urgent Thai SMS case (1), a low English one (2); agent 1."""
    now = datetime.now(UTC)
    with store.session() as session:
        incident = make_incident(session, now=now)
        make_case(session, incident, now=now)
        make_case(session, incident, severity="low", language="en", sender="+66812345679", now=now)
        make_agent(session, 1)


def test_cases_list_filters_and_paginates(api: Api, store: Store) -> None:
    """Filters narrow the list; ``limit``/``after`` walk it a page at a time with ``next``."""
    _seed(store)
    every = api.get("/cases").json()
    assert [c["id"] for c in every["items"]] == [1, 2] and every["next"] is None
    assert every["items"][0]["contact"] != "+66812345678"  # masked
    assert [c["id"] for c in api.get("/cases", params={"severity": "urgent"}).json()["items"]] == [
        1
    ]
    assert [c["id"] for c in api.get("/cases", params={"language": "en"}).json()["items"]] == [2]
    assert [c["id"] for c in api.get("/cases", params={"sla": "on_track"}).json()["items"]] == [
        1,
        2,
    ]
    assert api.get("/cases", params={"sla": "breached"}).json()["items"] == []
    assert api.get("/cases", params={"incident": "INC-1"}).json()["items"][1]["incident"] == "INC-1"
    first = api.get("/cases", params={"limit": 1}).json()
    assert [c["id"] for c in first["items"]] == [1] and first["next"] == 1
    second = api.get("/cases", params={"limit": 1, "after": first["next"]}).json()
    assert [c["id"] for c in second["items"]] == [2] and second["next"] is None
    assert api.get("/cases", params={"incident": "INC-9"}).status_code == 404
    assert api.get("/cases", params={"limit": 0}).status_code == 422


def test_assign_status_note_and_reply(api: Api, store: Store, home: Path) -> None:
    """An agent is given the case, moves it to the playbook's own ``dispatched``, notes it and
    replies to the customer by SMS (the exercise's outbox); the conversation shows it all."""
    _seed(store)
    assigned = api.post("/cases/{case_id}/assign", json={"agent_id": 1}, case_id=1).json()
    assert assigned["agent_id"] == 1
    assert api.get("/cases", params={"agent": 1}).json()["items"][0]["id"] == 1
    moved = api.post("/cases/{case_id}/status", "agent", json={"status": "dispatched"}, case_id=1)
    assert moved.json()["status"] == "dispatched"
    wrong = api.post("/cases/{case_id}/status", json={"status": "teleported"}, case_id=1)
    assert wrong.status_code == 422 and "dispatched" in wrong.json()["detail"]
    api.post("/cases/{case_id}/notes", json={"text": "boat on its way"}, case_id=1)
    sent = api.post("/cases/{case_id}/replies", json={"text": "A boat is coming"}, case_id=1).json()
    assert sent["delivery_status"] == "sent"
    outbox = (home / "outbox" / "INC-1" / "sms.jsonl").read_text()
    assert "A boat is coming" in outbox and "+66812345678" in outbox
    case = api.get("/cases/{case_id}", case_id=1).json()
    assert "dispatched" in case["statuses"]
    kinds = [(line["kind"], line["body"]) for line in case["conversation"]]
    assert kinds[0] == ("incoming", "help")
    assert ("note", "boat on its way") in kinds and ("reply", "A boat is coming") in kinds
    assert ("status", "new -> dispatched") in kinds
    audit = api.get("/audit", params={"incident": "INC-1"}).json()["items"]
    actions = [(a["action"], a["actor"]) for a in audit]
    assert ("case.assign", "user:1 commander") in actions
    assert ("case.status", "user:3 agent") in actions
    assert {"case.note", "case.reply"} <= {a for a, _ in actions}
    assert all("boat" not in str(a["detail"]) for a in audit)  # no message text in the log


def test_missing_things_are_404_and_bad_bodies_422(api: Api, store: Store) -> None:
    """Unknown ids and refs name what to do; a bad body names the field."""
    _seed(store)
    assert api.get("/cases/{case_id}", case_id=99).status_code == 404
    assert api.get("/incidents/{ref}", ref="INC-99").status_code == 404
    assert api.get("/incidents/{ref}", ref="nonsense").status_code == 404
    bad = api.post("/cases/{case_id}/assign", json={"agent_id": "x"}, case_id=1)
    assert bad.status_code == 422 and "agent_id" in bad.json()["detail"]
    assert api.post("/cases/{case_id}/assign", json={"agent_id": 42}, case_id=1).status_code == 404
    nul = api.post("/cases/{case_id}/notes", json={"text": "a\x00b"}, case_id=1)
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]


def test_agents_users_and_tokens(api: Api, store: Store) -> None:
    """A commander adds a day-pass agent and releases it, adds a user and issues a token that
    then works (shown once); the audit log names who did each, without the token."""
    added = api.post(
        "/agents",
        json={"name": "Noi", "phone": "+66812340001", "languages": ["th"], "day_pass_hours": 12},
    )
    agent = added.json()
    assert added.status_code == 201 and agent["temporary"] and agent["pass_expires_at"]
    assert agent["phone"] != "+66812340001"
    listed = api.get("/agents", "viewer").json()["items"]
    assert [a["name"] for a in listed] == ["Noi"]
    released = api.post("/agents/{agent_id}/release", agent_id=agent["id"]).json()
    assert released["agent"]["active"] is False
    user = api.post("/users", json={"username": "Dana", "role": "comms"}).json()
    assert user["username"] == "dana" and user["role"] == "comms"
    taken = api.post("/users", json={"username": "dana", "role": "viewer"})
    assert taken.status_code == 422 and "taken" in taken.json()["detail"]
    token = api.post("/users/{user_id}/tokens", json={"label": "laptop"}, user_id=user["id"]).json()
    api.tokens["dana"] = token["token"]
    assert api.get("/incidents", "dana").status_code == 200
    assert api.get("/users", "dana").status_code == 403
    entries = api.get("/audit").json()["items"]
    assert [e["action"] for e in entries] == [
        "agent.add",
        "agent.release",
        "user.create",
        "user.token",
    ]
    assert token["token"] not in str(entries)
    only = api.get("/audit", params={"action": "user.token"}).json()["items"]
    assert [e["subject"] for e in only] == [f"user {user['id']}"]
