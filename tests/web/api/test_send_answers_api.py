"""A send through ``/api/v1`` that this machine could not write (its outbox on a full disk)
says so in its answer, so a caller is not told everything went out; the deliveries stay
queued. Real Prefect flow runs on SQLite and PostgreSQL; the disk is full at the OS boundary
(the outbox files link to /dev/full)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import OUTAGE, Api
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from crisiscast.channels.outbox import read_outbox
from crisiscast.flows.broadcast import broadcast
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Delivery

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API for the flows a send runs."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


def _disk_full(home: Path, ref: str) -> None:
    outbox = home / "outbox" / ref
    outbox.mkdir(parents=True, exist_ok=True)
    for name in ("sms.jsonl", "email.jsonl", "email.contents.jsonl", "social.jsonl"):
        (outbox / name).unlink(missing_ok=True)
        (outbox / name).symlink_to(FULL)


def test_launch_and_update_answers_name_what_could_not_be_written(
    api: Api, store: Store, home: Path, tmp_path: Path
) -> None:
    """Both answers name the full disk; once space is back, one broadcast sends the launch's
    message and the update's, each once (the update left the launch's queued rows alone)."""
    contacts = tmp_path / "customers.csv"
    contacts.write_text("name,phone,email,language\nAnn,+1 415 555 2671,ann@example.com,en\n")
    _disk_full(home, "INC-1")
    body = {"playbook": str(OUTAGE), "params": {"service": "Payments API"},
            "audience": str(contacts), "exercise": True}  # fmt: skip
    launched = api.post("/incidents", json=body)
    assert launched.status_code == 201, launched.text
    result = launched.json()["result"]
    assert any(e.startswith("sms:") and "No space left on device" in e
               for e in result["local_errors"]), result  # fmt: skip
    assert result["counts"]["sms"] == {"queued": 1}

    update = {"texts": {"en": "Fixed: payments work again"}}
    answer = api.post("/incidents/{ref}/updates", json=update, ref="INC-1")
    assert answer.status_code == 200, answer.text
    assert any("No space left on device" in e for e in answer.json()["result"]["local_errors"])

    outbox = home / "outbox" / "INC-1"
    for link in outbox.iterdir():
        link.unlink()  # space is back
    url = store.url.render_as_string(hide_password=False)
    broadcast("INC-1", database_url=url)
    texts = [line["text"] for line in read_outbox(outbox / "sms.jsonl")]
    assert len(texts) == 2 and "Fixed: payments work again" in texts[1], texts
    with store.session() as session:
        sent = session.scalars(select(Delivery.status).where(Delivery.channel == "sms")).all()
    assert sorted(sent) == ["sent", "sent"]
