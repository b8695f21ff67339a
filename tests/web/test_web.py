"""The web app: token-guarded launches, and the published incident site served safely."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crisiscast.config import load_settings
from crisiscast.web.app import create_app


@pytest.fixture
def home(tmp_path: Path) -> Path:
    site = tmp_path / "site" / "INC-7"
    (site / "cap").mkdir(parents=True)
    (site / "index.html").write_text("<html lang='en'>incident page</html>")
    (site / "banner.json").write_text('{"status": "active"}')
    (site / ".banner.json.tmp").write_text("half written")
    (site / "cap" / "a.xml").write_text("<alert/>")
    (tmp_path / "secret.txt").write_text("not public")
    return tmp_path


@pytest.fixture
def client(home: Path) -> TestClient:
    settings = load_settings({"CRISISCAST_HOME": str(home)})
    return TestClient(create_app(settings, token="t0k"))


def test_health(client: TestClient) -> None:
    """The CLI's warm-mode probe answers."""
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "t0k"])
def test_launch_needs_the_token(client: TestClient, auth: str | None) -> None:
    """Without serve.json's token nobody can launch a broadcast through the port."""
    headers = {"Authorization": auth} if auth else {}
    response = client.post("/api/launch", json={"playbook": "x.yaml"}, headers=headers)
    assert response.status_code == 401


def test_launch_reports_playbook_problems(client: TestClient, tmp_path: Path) -> None:
    """A bad playbook comes back as 422 with the located message, not a 500."""
    response = client.post(
        "/api/launch",
        json={"playbook": str(tmp_path / "missing.yaml")},
        headers={"Authorization": "Bearer t0k"},
    )
    assert response.status_code == 422
    assert "missing.yaml" in response.json()["detail"]


def test_incident_page_and_banner_state(client: TestClient) -> None:
    """The page and the banner state are served; the state may be fetched from any site."""
    page = client.get("/incidents/INC-7/")
    assert page.status_code == 200 and "incident page" in page.text
    assert page.headers["content-type"].startswith("text/html")
    state = client.get("/incidents/INC-7/banner.json")
    assert state.json() == {"status": "active"}
    assert state.headers["access-control-allow-origin"] == "*"
    assert state.headers["cache-control"] == "no-cache"
    assert client.get("/incidents/INC-7/cap/a.xml").text == "<alert/>"


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/INC-7/.banner.json.tmp",
        "/incidents/INC-7/../secret.txt",
        "/incidents/INC-7/%2e%2e/secret.txt",
        "/incidents/..%2fsecret.txt/x",
        "/incidents/INC-8/index.html",
        "/incidents/INC-7/nothing.json",
    ],
)
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    """Temp files, other folders and unknown incidents are 404."""
    assert client.get(path).status_code == 404


def test_warm_launch_never_skips_the_two_person_rule(client: TestClient, tmp_path: Path) -> None:
    """The CLI's warm route refuses a playbook that needs approval (409, naming the way to ask
    for it) before any flow runs: nothing is written to the outbox."""
    outage = Path(__file__).resolve().parents[2] / "playbooks" / "saas-outage.yaml"
    guarded = tmp_path / "guarded.yaml"
    guarded.write_text(outage.read_text(encoding="utf-8") + "\napproval: required\n")
    body = {"playbook": str(guarded), "params": {"service": "Payments"}}
    refused = client.post("/api/launch", json=body, headers={"Authorization": "Bearer t0k"})
    assert refused.status_code == 409
    assert "second person's approval" in refused.json()["detail"]
    assert not any((tmp_path / "outbox").rglob("*.jsonl"))
