"""The launch, update and approval pages over real HTTP on a real store: who may open and
send, located errors that keep what was typed, the two-person rule (the requester's own
approval refused, a second commander's running the launch), and hostile input answered 4xx;
plus the audience form read back into the API's target."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_support import Console, SignedIn, running_console, signed_client
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import func, select

from crisiscast.config import Settings
from crisiscast.incidents.audience.csv_import import import_contacts
from crisiscast.incidents.store.models import (
    Approval,
    AuditEvent,
    Delivery,
    Incident,
    TimelineEvent,
)
from crisiscast.playbook.examples import find_example
from crisiscast.web.console.audience_form import ListChoice, read_target

CONTACTS = 40
LISTS = [ListChoice("flood-zone", CONTACTS)]


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API for the flows a send runs."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


def write_contacts(path: Path, count: int) -> Path:
    """``count`` residents with Thai, Lao and English numbers and languages."""
    languages = ("th", "lo", "en", "fr")
    rows = [f"Resident {i},+6681{i:07d},{languages[i % 4]}" for i in range(count)]
    path.write_text("name,phone,language\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def guarded_flood(home: Path) -> Path:
    """The flood example with ``approval: required``, in the home's playbooks folder."""
    folder = home / "playbooks"
    folder.mkdir(parents=True, exist_ok=True)
    example = find_example("regional-flood")
    assert example is not None
    path = folder / "guarded-flood.yaml"
    path.write_text(example.read_text(encoding="utf-8") + "\napproval: required\n")
    return path


@pytest.fixture
def console(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """The console (on SQLite, then on PostgreSQL) with the guarded flood playbook and 40
    residents on list flood-zone; its flows write under the same home, as serve's do."""
    home = tmp_path / "home"
    monkeypatch.setenv("CRISISCAST_HOME", str(home))
    guarded_flood(home)
    csv = write_contacts(tmp_path / "residents.csv", CONTACTS)
    with running_console(Settings(home, db_url)) as running:
        with running.app.state.store.session() as session:
            import_contacts(session, csv, default_region="TH", list_name="flood-zone")
        yield running


@pytest.fixture
def ana(console: Console) -> Iterator[SignedIn]:
    with signed_client(console.base, "ana") as signed:
        yield signed


def flood_form(console: Console, signed: SignedIn, **extra: str) -> dict[str, str]:
    """A complete launch form for the guarded flood playbook to list flood-zone, live."""
    return {
        "csrf_token": signed.csrf,
        "playbook": str(console.settings.home / "playbooks" / "guarded-flood.yaml"),
        "param.area": "Mekong riverside",
        "param.peak_hours": "12",
        "list.flood-zone": "yes",
        "mode": "live",
        "step": "preview",
        **extra,
    }


def wait_for(check: object, seconds: float = 90) -> None:
    """Wait until ``check()`` is true (a background broadcast ends)."""
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the background broadcast did not end"
        time.sleep(0.25)


def count(console: Console, what: object, *where: object) -> int:
    with console.app.state.store.session() as session:
        query = select(func.count()).select_from(what)  # type: ignore[arg-type]
        return int(session.scalar(query.where(*where)) or 0)  # type: ignore[arg-type]


def test_the_launch_page_offers_the_examples_and_the_homes_playbooks(
    console: Console, ana: SignedIn
) -> None:
    page = ana.client.get("/console/launch")
    assert page.status_code == 200
    assert "regional-flood.yaml (example)" in page.text
    assert f"guarded-flood.yaml ({console.settings.home / 'playbooks'})" in page.text
    chosen = ana.client.get(
        "/console/launch", params={"playbook": flood_form(console, ana)["playbook"]}
    )
    assert chosen.status_code == 200
    assert '<input type="text" id="param-area" name="param.area" value=""' in chosen.text
    assert "flood-zone (40 contacts)" in chosen.text
    assert "needs a second commander or comms user to approve" in chosen.text


def test_bad_values_are_named_on_their_fields_and_nothing_typed_is_lost(
    console: Console, ana: SignedIn
) -> None:
    form = flood_form(
        console,
        ana,
        **{
            "param.area": "",
            "param.peak_hours": "tomorrow",
            "circle": "13.75,100.5 many",
            "filter": "Tidal Zone",
        },
    )
    answer = ana.client.post("/console/launch", data=form)
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "nothing was sent" in answer.text
    assert '<a href="#param-area">Area is required: fill it in.</a>' in answer.text
    assert "Peak hours: &#x27;tomorrow&#x27; is not an integer" in answer.text
    assert 'aria-describedby="param-peak_hours-hint param-peak_hours-error"' in answer.text
    assert 'value="tomorrow"' in answer.text and 'value="13.75,100.5 many"' in answer.text
    assert 'id="circle-error"' in answer.text and 'id="filter-error"' in answer.text
    assert count(console, Incident) == 0 and count(console, Approval) == 0


def test_preview_shows_reach_cost_and_the_approval_step(console: Console, ana: SignedIn) -> None:
    answer = ana.client.post("/console/launch", data=flood_form(console, ana))
    assert answer.status_code == 200, answer.text
    assert "Reach per channel and language" in answer.text
    assert re.search(
        r'<td data-label="Channel">sms</td><td data-label="Language">th</td>'
        r'<td data-label="Reached">10</td>',
        answer.text,
    )
    assert "sms: no provider configured, so it is written to the outbox" in answer.text
    assert "SMS cost" in answer.text and "Mekong riverside" in answer.text
    assert '<button type="submit" name="step" value="send">Request approval</button>' in answer.text
    assert count(console, Incident) == 0  # a preview records nothing


def test_the_requester_cannot_approve_and_a_second_commander_launches(
    console: Console, ana: SignedIn
) -> None:
    asked = ana.client.post("/console/launch", data=flood_form(console, ana, step="send"))
    assert asked.status_code == 303
    approval = asked.headers["location"]
    assert re.fullmatch(r"/console/approvals/\d+", approval)
    assert count(console, Incident) == 0
    own = ana.client.get(approval)
    assert "You asked for this" in own.text and "Approve and send" not in own.text
    refused = ana.client.post(f"{approval}/approve", data={"csrf_token": ana.csrf})
    assert refused.status_code == 403
    assert "was requested by you: the two-person rule" in refused.text
    with signed_client(console.base, "cam") as cam:
        listed = cam.client.get("/console/approvals")
        assert f'<a href="{approval}">' in listed.text
        seen = cam.client.get(approval)
        assert "Reach per channel and language" in seen.text and "Approve and send" in seen.text
        done = cam.client.post(f"{approval}/approve", data={"csrf_token": cam.csrf})
        assert done.status_code == 303
        assert done.headers["location"] == "/console/incidents/INC-1"
        wait_for(lambda: count(console, AuditEvent, AuditEvent.action == "broadcast") == 1)
        assert count(console, Delivery) > 0
        again = cam.client.post(f"{approval}/approve", data={"csrf_token": cam.csrf})
        assert again.status_code == 409
        update = {"csrf_token": ana.csrf, "text.en": "Water is falling", "step": "send"}
        asked = ana.client.post("/console/incidents/INC-1/update", data=update)
        assert asked.status_code == 303 and asked.headers["location"] == "/console/approvals/2"
        assert "Water is falling" in cam.client.get("/console/approvals/2").text
        done = cam.client.post("/console/approvals/2/approve", data={"csrf_token": cam.csrf})
        assert done.headers["location"] == "/console/incidents/INC-1"
        wait_for(lambda: count(console, AuditEvent, AuditEvent.action == "update") == 1)


def test_an_exercise_sends_at_once_and_an_update_follows(console: Console, ana: SignedIn) -> None:
    sent = ana.client.post(
        "/console/launch", data=flood_form(console, ana, mode="exercise", step="send")
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/console/incidents/INC-1"
    wait_for(lambda: count(console, AuditEvent, AuditEvent.action == "broadcast") == 1)
    page = ana.client.get("/console/incidents/INC-1/update")
    assert page.status_code == 200 and 'name="text.en"' in page.text
    empty = ana.client.post("/console/incidents/INC-1/update", data={"csrf_token": ana.csrf})
    assert empty.status_code == 422 and 'id="text-en-error"' in empty.text
    form = {"csrf_token": ana.csrf, "text.en": "Water is falling", "step": "preview"}
    preview = ana.client.post("/console/incidents/INC-1/update", data=form)
    assert preview.status_code == 200 and "Water is falling" in preview.text
    update = ana.client.post("/console/incidents/INC-1/update", data={**form, "step": "send"})
    assert update.status_code == 303 and update.headers["location"] == "/console/incidents/INC-1"
    wait_for(lambda: count(console, AuditEvent, AuditEvent.action == "update") == 1)


@pytest.mark.parametrize(
    "path", ["/console/launch", "/console/approvals", "/console/incidents/INC-1/update"]
)
def test_a_viewer_gets_a_403_page(console: Console, path: str) -> None:
    with signed_client(console.base, "vic") as vic:
        answer = vic.client.get(path)
    assert answer.status_code == 403 and "Not for your role" in answer.text


def test_comms_may_preview_but_not_launch(console: Console) -> None:
    with signed_client(console.base, "bo") as bo:
        preview = bo.client.post("/console/launch", data=flood_form(console, bo))
        assert preview.status_code == 200 and "a commander sends it" in preview.text
        send = bo.client.post("/console/launch", data=flood_form(console, bo, step="send"))
    assert send.status_code == 403
    assert count(console, Approval) == 0


def test_signed_out_is_sent_to_sign_in(console: Console) -> None:
    answer = httpx.get(f"{console.base}/console/launch")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/console/launch"


def test_hostile_input_is_4xx(console: Console, ana: SignedIn) -> None:
    good = flood_form(console, ana)
    post = ana.client.post
    assert post("/console/launch", data={**good, "csrf_token": ""}).status_code == 403
    assert post("/console/approvals/1/approve", data={"reason": ""}).status_code == 403
    assert post("/console/incidents/INC-1/update", data={"text.en": "x"}).status_code == 403
    assert post("/console/launch", data={**good, "param.area": "a\x00b"}).status_code == 400
    assert post("/console/launch", data={**good, "filter": "x" * 70_000}).status_code == 413
    assert post("/console/launch", data={**good, "playbook": "/etc/passwd"}).status_code == 422
    assert post("/console/launch", data={**good, "list.nowhere": "yes"}).status_code == 422
    assert post("/console/launch", data={**good, "mode": "maybe"}).status_code == 422
    for odd in ("abc", "0", "99999999999999999999", "7"):
        assert ana.client.get(f"/console/approvals/{odd}").status_code == 404
        assert (
            post(f"/console/approvals/{odd}/approve", data={"csrf_token": ana.csrf}).status_code
            == 404
        )
    for ref in ("INC-99", "nonsense", "INC-" + "9" * 30):
        assert ana.client.get(f"/console/incidents/{ref}/update").status_code == 404
    assert ana.client.get("/console/launch", params={"playbook": "/etc/passwd"}).status_code == 422


def test_the_audience_form_becomes_the_apis_target() -> None:
    target, errors = read_target(
        {"list.flood-zone": "yes", "filter": " language=th ", "circle": "13.75,100.5 5"}, LISTS
    )
    assert errors == {}
    assert target is not None and target["lists"] == ["flood-zone"]
    assert target["filter"] == "language=th" and target["area"]["circles"]
    assert read_target({}, LISTS) == (None, {})
    assert read_target({"everyone": "true"}, LISTS) == ({"everyone": True}, {})


def test_audience_mistakes_are_named_on_their_fields() -> None:
    _, errors = read_target(
        {"list.gone": "yes", "polygon": "1,2 3,4", "everyone": "true", "area_codes": ""}, LISTS
    )
    assert errors["lists"].startswith("Contact lists: no list named gone")
    assert errors["polygon"].startswith("Area: ")
    _, clash = read_target({"list.flood-zone": "yes", "everyone": "true"}, LISTS)
    assert clash["everyone"].startswith("Everyone reaches every contact")


def test_a_send_that_cannot_write_says_so_on_the_timeline(console: Console, ana: SignedIn) -> None:
    """The outbox on a full disk (its files link to /dev/full): the background send stops,
    and the commander watching the dashboard reads why and how to finish it."""
    outbox = console.settings.home / "outbox" / "INC-1"
    outbox.mkdir(parents=True)
    for name in ("sms.jsonl", "email.jsonl", "email.contents.jsonl", "social.jsonl", "chat.jsonl"):
        (outbox / name).symlink_to("/dev/full")
    sent = ana.client.post(
        "/console/launch", data=flood_form(console, ana, mode="exercise", step="send")
    )
    assert sent.status_code == 303
    wait_for(lambda: count(console, TimelineEvent, TimelineEvent.kind == "broadcast_failed") == 1)
    with console.app.state.store.session() as session:
        event = session.scalars(
            select(TimelineEvent).where(TimelineEvent.kind == "broadcast_failed")
        ).one()
    assert "No space left on device" in event.message
    assert event.message.endswith("Finish it with crisiscast broadcast INC-1.")
    sent_out = (Delivery.status == "sent", Delivery.channel.in_(["sms", "email"]))
    assert count(console, Delivery, *sent_out) == 0  # still queued: the next broadcast sends
    page = ana.client.get("/console/incidents/INC-1")
    assert "The send from the console stopped" in page.text
