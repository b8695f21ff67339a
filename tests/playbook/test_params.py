from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from playbook_paths import ROOT

from crisiscast.errors import PlaybookError
from crisiscast.playbook import Playbook, load_playbook, resolve_params


@pytest.fixture(scope="module")
def saas() -> Playbook:
    """The SaaS outage playbook: string, integer, choice and datetime parameters."""
    return load_playbook(ROOT / "playbooks" / "saas-outage.yaml")


@pytest.fixture(scope="module")
def flood() -> Playbook:
    """The flood playbook: a boolean parameter."""
    return load_playbook(ROOT / "playbooks" / "regional-flood.yaml")


def test_defaults_apply_and_strings_convert(saas: Playbook) -> None:
    """Given only the required parameter, defaults fill the rest with their declared types."""
    params = resolve_params(saas, {"service": "Payments API", "eta_minutes": "45"})
    assert params == {
        "service": "Payments API",
        "eta_minutes": 45,
        "region": "all",
        "workaround": "",
        "started_at": None,
    }


def test_datetime_and_choice_convert(saas: Playbook) -> None:
    """ISO 8601 with an offset keeps it; a choice is accepted when listed."""
    params = resolve_params(
        saas, {"service": "API", "started_at": "2026-03-01T14:30:00+07:00", "region": "eu"}
    )
    assert params["started_at"] == datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=7)))
    assert params["region"] == "eu"


def test_datetime_without_offset_is_utc(saas: Playbook) -> None:
    """A date-time without an offset is read as UTC rather than the server's local time."""
    params = resolve_params(saas, {"service": "API", "started_at": "2026-03-01T14:30"})
    assert params["started_at"].tzinfo == UTC


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("yes", True), ("0", False), ("FALSE", False)]
)
def test_booleans_convert(flood: Playbook, raw: str, expected: bool) -> None:
    """Usual spellings of yes and no become booleans."""
    assert resolve_params(flood, {"area": "Vientiane", "evacuation": raw})["evacuation"] is expected


def _error(playbook: Playbook, raw: dict[str, str]) -> str:
    with pytest.raises(PlaybookError) as caught:
        resolve_params(playbook, raw)
    return str(caught.value)


def test_missing_required_parameter_says_how_to_pass_it(saas: Playbook) -> None:
    """A required parameter not given names it, its type and the --param syntax."""
    message = _error(saas, {})
    assert "required parameter 'service' (string) was not given" in message
    assert '--param service="Payments API"' in message
    assert ":10:3: parameters.service:" in message  # points at the definition in the YAML


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"eta_minutes": "soon"}, ["'soon' is not an integer", "--param eta_minutes=60"]),
        ({"region": "mars"}, ["'mars' is not one of the choices", "all, eu, us, apac"]),
        ({"started_at": "yesterday"}, ["not an ISO 8601 date-time", "2026-03-01T14:30:00+00:00"]),
        ({"servce": "x"}, ["unknown parameter 'servce'", "did you mean 'service'"]),
    ],
)
def test_bad_values_name_the_parameter_and_the_fix(
    saas: Playbook, raw: dict[str, str], words: list[str]
) -> None:
    """Wrong types, unknown choices and unknown names each explain what to pass instead."""
    message = _error(saas, {"service": "API", **raw})
    for word in words:
        assert word in message


def test_all_parameter_problems_are_reported(saas: Playbook) -> None:
    """Several bad parameters are reported together, not one per run."""
    with pytest.raises(PlaybookError) as caught:
        resolve_params(saas, {"eta_minutes": "x", "bogus": "1"})
    assert len(caught.value.problems) == 3


def test_bad_default_is_caught_at_validate_time(tmp_path: Path) -> None:
    """A default that does not fit its type fails validation, not launch."""
    text = (ROOT / "playbooks" / "saas-outage.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("default: 60", "default: soon"), encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (11, "parameters.eta_minutes")
    assert "default: 'soon' is not an integer" in problem.message
