"""The crisiscast command as a commander uses it: clear messages, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiscast.cli.app import app, parse_params
from crisiscast.errors import CrisiscastError

ROOT = Path(__file__).resolve().parents[2]
BROKEN = sorted((ROOT / "tests" / "playbooks" / "broken").glob("*.yaml"))
OUTAGE = ROOT / "playbooks" / "saas-outage.yaml"
CLI = [sys.executable, "-m", "crisiscast.cli"]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path))
    monkeypatch.delenv("CRISISCAST_DATABASE_URL", raising=False)
    return CliRunner()


def test_validate_examples(runner: CliRunner) -> None:
    """Every shipped playbook validates."""
    result = runner.invoke(
        app, ["validate", *map(str, sorted((ROOT / "playbooks").glob("*.yaml")))]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 3


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_validate_broken_gives_located_message(runner: CliRunner, path: Path) -> None:
    """Each broken playbook gives a file:line message, exit 1 and never a traceback."""
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert re.search(rf"{re.escape(path.name)}:\d+(:\d+)?: ", result.output), result.output


def test_schema_is_json(runner: CliRunner, tmp_path: Path) -> None:
    """`schema -o` writes a JSON Schema an editor can use."""
    target = tmp_path / "playbook.schema.json"
    result = runner.invoke(app, ["schema", "-o", str(target)])
    assert result.exit_code == 0
    schema = json.loads(target.read_text())
    assert "parameters" in schema["properties"]


def test_preview_renders_every_channel(runner: CliRunner) -> None:
    """Preview shows the rendered text with the parameters filled in, per channel."""
    result = runner.invoke(app, ["preview", str(OUTAGE), "-p", "service=Payments API"])
    assert result.exit_code == 0, result.output
    assert "Payments API" in result.output
    for channel in ("sms", "email", "social", "banner", "chat"):
        assert f"· {channel} ·" in result.output


def test_preview_counts_sms_segments_and_cost(runner: CliRunner) -> None:
    """Thai and Lao SMS are UCS-2; the preview says so, with segments and a cost estimate."""
    flood = ROOT / "playbooks" / "regional-flood.yaml"
    args = ["preview", str(flood), "-p", "area=Riverside", "--when", "launch",
            "--sms-price", "0.01", "--recipients", "500"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "GSM7, 1 segment(s); 500 recipients ≈ 5.00 at 0.01 a segment" in result.output
    assert result.output.count("UCS2, 1 segment(s)") == 2  # the Thai and the Lao text
    bad = runner.invoke(app, ["preview", str(flood), "-p", "area=X", "--sms-price", "cheap"])
    assert bad.exit_code == 1 and "--sms-price" in bad.output


def test_launch_refuses_missing_parameter_before_running(runner: CliRunner) -> None:
    """A missing required parameter names it and how to pass it; nothing is launched."""
    result = runner.invoke(app, ["launch", str(OUTAGE)])
    assert result.exit_code == 1
    assert "service" in result.output and "--param" in result.output
    assert "Traceback" not in result.output


def test_status_of_unknown_incident(runner: CliRunner) -> None:
    """Asking for an incident that does not exist says so and points at `list`."""
    result = runner.invoke(app, ["status", "INC-999"])
    assert result.exit_code == 1
    assert "INC-999" in result.output and "crisiscast list" in result.output


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["service=Payments API"], {"service": "Payments API"}),
        (["a=1", "b=x=y"], {"a": "1", "b": "x=y"}),
        ([], {}),
    ],
)
def test_parse_params(items: list[str], expected: dict[str, str]) -> None:
    """--param key=value pairs; the first '=' splits."""
    assert parse_params(items) == expected


@pytest.mark.parametrize("items", [["novalue"], ["=x"], ["a=1", "a=2"]])
def test_parse_params_refuses_ambiguity(items: list[str]) -> None:
    """Malformed or repeated parameters are refused with a message."""
    with pytest.raises(CrisiscastError):
        parse_params(items)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env["CRISISCAST_HOME"] = str(home)
    env["PREFECT_HOME"] = str(home / "prefect")
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )


def test_launch_then_status_cold(tmp_path: Path) -> None:
    """As a user types it: launch on the embedded default, then status shows the incident."""
    env = _env(tmp_path)
    launched = _run(["launch", str(OUTAGE), "-p", "service=Payments API", "--everyone"], env)
    assert launched.returncode == 0, launched.stderr
    assert "INC-1 launched (cold" in launched.stdout
    assert "outbox" in launched.stdout  # says plainly that nothing is really sent
    assert "Traceback" not in launched.stderr and "ERROR" not in launched.stderr
    status = _run(["status", "INC-1"], env)
    assert status.returncode == 0, status.stderr
    assert "Payments API outage" in status.stdout and "sent" in status.stdout
    report = _run(["report", "INC-1", "-o", str(tmp_path / "reports")], env)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "reports" / "INC-1-report.html").read_text()
    assert "Payments API outage" in html and 'role="img"' in html


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def warm_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`crisiscast serve` running in the background, as a commander would leave it."""
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(_free_port())],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "serve.json").exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "serve did not start in 120 s"
        time.sleep(0.2)
    try:
        yield env
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert not (tmp_path / "serve.json").exists()  # cleaned up on stop


def test_launch_goes_through_warm_server(warm_server: dict[str, str]) -> None:
    """With `serve` up, launch is handed to it and the incident is in the same store."""
    launched = _run(
        ["launch", str(OUTAGE), "-p", "service=Search", "--exercise", "--everyone"], warm_server
    )
    assert launched.returncode == 0, launched.stderr
    assert "INC-1 launched (warm" in launched.stdout
    bad = _run(
        ["launch", str(OUTAGE), "-p", "service=Search", "-p", "eta_minutes=soon"], warm_server
    )
    assert bad.returncode == 1 and "eta_minutes" in bad.stderr
    status = _run(["status", "INC-1"], warm_server)
    assert "Search outage" in status.stdout and "exercise" in status.stdout


def test_agents_add_list_release(runner: CliRunner) -> None:
    """The roster from the command line: phones are masked in lists, release takes them off."""
    added = runner.invoke(app, ["agents", "add", "Noi", "--phone", "+66812340001",
                                "--language", "th", "--day-pass", "12"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "agent 1 added: Noi, pass until" in added.output
    listed = runner.invoke(app, ["agents", "list"])
    assert "Noi" in listed.output and "+66812340001" not in listed.output
    duplicate = runner.invoke(app, ["agents", "add", "Other", "--phone", "+66812340001"])
    assert duplicate.exit_code == 1 and "Traceback" not in duplicate.output
    released = runner.invoke(app, ["agents", "release", "1"])
    assert released.exit_code == 0 and "released" in released.output
    assert "No agents" in runner.invoke(app, ["agents", "list"]).output


def test_answers_that_need_no_flow_come_without_prefect(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown incident or an empty sweep is answered from the store alone: Prefect (whose
    start costs seconds) is never started for them."""
    import crisiscast.cli.response as response

    def no_prefect() -> None:
        raise AssertionError("Prefect was started for an answer that needs no flow")

    monkeypatch.setattr(response, "prefect_in_process", no_prefect)
    swept = runner.invoke(app, ["sweep"])
    assert swept.exit_code == 0, swept.output
    assert "Nothing to do" in swept.output
    unknown = runner.invoke(app, ["stand-down", "INC-999"])
    assert unknown.exit_code == 1
    assert "INC-999" in unknown.output and "Traceback" not in unknown.output
