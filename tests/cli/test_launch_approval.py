"""The two-person rule from the CLI: a playbook that needs approval is not launched by one
person at a shell, cold or warm; the request waits, with its preview, for a second person."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from crisiscast.cli.app import app
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Approval, ApprovalStatus, AuditEvent, Incident

ROOT = Path(__file__).resolve().parents[2]
OUTAGE = ROOT / "playbooks" / "saas-outage.yaml"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path))
    monkeypatch.delenv("CRISISCAST_DATABASE_URL", raising=False)
    return CliRunner()


@pytest.fixture
def guarded(tmp_path: Path) -> Path:
    path = tmp_path / "guarded.yaml"
    path.write_text(OUTAGE.read_text(encoding="utf-8") + "\napproval: required\n")
    return path


def test_launch_waits_for_a_second_person(runner: CliRunner, guarded: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["launch", str(guarded), "-p", "service=Payments API", "--everyone"]
    )
    assert result.exit_code == 0, result.output
    assert "not launched" in result.output and "Approval 1 is requested" in result.output
    store = Store(f"sqlite:///{tmp_path / 'crisiscast.db'}")
    try:
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Incident)) == 0
            row = session.scalars(select(Approval)).one()
            assert (row.kind, row.status, row.requester) == (
                "launch",
                ApprovalStatus.PENDING,
                "cli",
            )
            assert row.preview is not None and row.preview["kind"] == "launch"
            actions = session.scalars(select(AuditEvent.action)).all()
            assert "launch.requested" in actions
    finally:
        store.dispose()
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").rglob("*.jsonl"))


def test_an_exercise_needs_no_approval(runner: CliRunner, guarded: Path) -> None:
    result = runner.invoke(
        app,
        ["launch", str(guarded), "-p", "service=Payments API", "--everyone", "--exercise"],
    )
    assert result.exit_code == 0, result.output
    assert "INC-1" in result.output and "launched" in result.output


def test_update_and_recall_of_a_guarded_incident_go_through_the_api(
    runner: CliRunner, guarded: Path, tmp_path: Path
) -> None:
    """The rule is read from the incident's playbook at each action: once it says
    ``approval: required``, the CLI refuses an update or a recall and names the API route
    that asks for the approval (nothing is suppressed or sent meanwhile)."""
    plain = tmp_path / "plain.yaml"
    plain.write_text(OUTAGE.read_text(encoding="utf-8"))
    opened = runner.invoke(
        app, ["launch", str(plain), "-p", "service=Payments API", "--everyone", "--hold"]
    )
    assert opened.exit_code == 0, opened.output
    plain.write_text(guarded.read_text(encoding="utf-8"))  # the rule now applies to INC-1
    for command in (["update", "INC-1", "--text", "Fixed soon"], ["recall", "INC-1"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert "needs a second person's approval" in result.output
        assert "/api/v1/incidents/INC-1/" in result.output
