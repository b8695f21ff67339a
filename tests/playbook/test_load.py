import subprocess
import sys
import time
from pathlib import Path

import pytest
from playbook_paths import BROKEN, EXAMPLES

from crisiscast.errors import PlaybookError, Problem
from crisiscast.playbook import Playbook, load_playbook, render

# file, line, column, key path, words the message must contain
BROKEN_CASES = [
    ("bad_yaml_syntax.yaml", 27, 9, "", ["YAML syntax error", "flow mapping", "indentation"]),
    ("unknown_key.yaml", 15, 5, "announcements[0].channel", ["unknown key 'channel'", "channels"]),
    ("wrong_type.yaml", 4, 1, "languages", ["valid list", "42"]),
    ("missing_title.yaml", 2, 1, "title", ["missing required key 'title'", "add `title:"]),
    (
        "parameter_without_type.yaml",
        6,
        3,
        "parameters.service.type",
        ["missing required key 'type'", "add `type:"],
    ),
    (
        "undefined_variable.yaml",
        22,
        15,
        "announcements[1].channels.sms.text.en",
        ["undefined variable 'servce'", "did you mean 'service'"],
    ),
    ("level_without_sla.yaml", 26, 7, "severity.levels[1]", ["'low' has no SLA", "first_response"]),
    (
        "matrix_undefined_level.yaml",
        31,
        25,
        "severity.matrix.minor.low",
        ["'lowest'", "not a severity level", "high, low"],
    ),
    ("duplicate_key.yaml", 11, 5, "routes[0].channel", ["duplicate key 'channel'", "line 10"]),
    (
        "template_syntax.yaml",
        24,
        11,
        "announcements[1].channels.sms.text.en",
        ["template syntax error", "endif"],
    ),
    (
        "unknown_signal.yaml",
        36,
        65,
        "triage_questions[0].answered_by[0]",
        ["'danger' is not a signal", "danger_to_life"],
    ),
    ("stand_down_missing.yaml", 38, 3, "stand_down.announcement", ["'all-clean'", "all_clear"]),
    (
        "missing_translation.yaml",
        22,
        9,
        "announcements[1].channels.sms.text",
        ["missing the th text", 'add th: "..."'],
    ),
    (
        "bad_duration.yaml",
        25,
        20,
        "severity.levels[0].first_response",
        ["60 is not a duration", "1h30m"],
    ),
    ("top_level_list.yaml", 2, 1, "", ["top level is a list", "mapping"]),
]


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("name", "line", "column", "key", "words"), BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES]
)
def test_broken_playbook_gives_one_located_message(
    name: str, line: int, column: int, key: str, words: list[str]
) -> None:
    """Each broken playbook yields exactly one problem at the right line, key and wording."""
    problems = _problems(BROKEN / name)
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert (problem.line, problem.column, problem.path) == (line, column, key)
    assert problem.file.endswith(name)
    for word in words:
        assert word in problem.message
    assert str(problem).startswith(f"{problem.file}:{line}:{column}:")


def test_every_broken_file_is_in_the_table() -> None:
    """No broken fixture goes untested."""
    tested = {case[0] for case in BROKEN_CASES} | {"missing_language.yaml"}
    assert tested == {path.name for path in BROKEN.glob("*.yaml")}


def test_all_problems_are_reported_at_once() -> None:
    """Plain strings in a two-language playbook are all reported, in line order."""
    problems = _problems(BROKEN / "missing_language.yaml")
    assert [p.line for p in problems] == [9, 17, 22, 36]
    assert all("plain string works only in a single-language" in p.message for p in problems)


def test_problems_from_different_stages_are_collected(tmp_path: Path) -> None:
    """A duplicate key and a model error in one file are both reported."""
    text = (BROKEN / "duplicate_key.yaml").read_text(encoding="utf-8")
    path = tmp_path / "two.yaml"
    path.write_text(text.replace("languages: [en]", "languages: 42"), encoding="utf-8")
    problems = _problems(path)
    assert [(p.line, p.path) for p in problems] == [(4, "languages"), (11, "routes[0].channel")]


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("missing", "file not found"),
        ("directory", "is a directory"),
        ("empty", "top level is empty"),
        ("binary", "not UTF-8"),
        ("scalar", "top level is a str"),
    ],
)
def test_unusable_files_get_one_clear_problem(tmp_path: Path, setup: str, words: str) -> None:
    """Missing, directory, empty, non-UTF-8 and non-mapping files give one problem each."""
    path = tmp_path / "p.yaml"
    if setup == "directory":
        path.mkdir()
    elif setup == "empty":
        path.write_text("# nothing yet\n", encoding="utf-8")
    elif setup == "binary":
        path.write_bytes(b"id: \xff\xfe\n")
    elif setup == "scalar":
        path.write_text("just a sentence\n", encoding="utf-8")
    problems = _problems(path)
    assert len(problems) == 1
    assert words in problems[0].message


def test_unknown_top_level_key_lists_the_allowed_keys(tmp_path: Path) -> None:
    """A misspelt top-level key suggests the right one."""
    text = (EXAMPLES[0]).read_text(encoding="utf-8").replace("\nstatuses:", "\nstatus:")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = _problems(path)
    assert "unknown key 'status'" in problem.message
    assert "did you mean 'statuses'" in problem.message


def test_examples_load(example: Playbook) -> None:
    """Every shipped playbook validates, with its source and locations kept."""
    assert example.source.endswith(f"{example.id}.yaml")
    assert example.location("severity", "levels", 0) is not None
    assert example.stand_down is not None
    assert example.announcement(example.stand_down.announcement).when == "all_clear"


def test_examples_carry_the_contact_routes(example: Playbook) -> None:
    """Each example routes technical, account, rescheduling and emergency needs as documented."""
    channels = {route.need: route.channel for route in example.routes}
    assert channels["technical"] == "live_chat"
    assert channels["account"] == "agent_message"
    assert channels["rescheduling"] == "self_service"
    assert channels["emergency"] == "phone"


def test_examples_cover_the_triage_questions_and_help(example: Playbook) -> None:
    """Each example asks the five triage questions and links every kind of resource."""
    assert {q.id for q in example.triage_questions} >= {
        "how_many",
        "financial_impact",
        "exhausting",
        "dangerous",
        "fix_first",
    }
    assert {r.kind for r in example.resources} >= {
        "government_aid",
        "community",
        "self_care",
        "knowledge_base",
    }
    assert example.reassurance is not None
    assert len(example.two_options) == 2
    for signal in example.signals:
        assert set(signal.patterns) == set(example.languages)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_validation_is_fast(path: Path) -> None:
    """Validating a playbook from scratch takes well under 100 ms."""
    load_playbook(path)  # first import of lazily loaded modules is not what users wait for
    render._compile.cache_clear()  # compile every template again, as a fresh process would
    started = time.perf_counter()
    load_playbook(path)
    assert time.perf_counter() - started < 0.1


def test_template_error_points_at_the_line_inside_a_block(tmp_path: Path) -> None:
    """An undefined name on the second line of a ``|`` block is reported on that exact line."""
    text = (BROKEN / "template_syntax.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("{% if service %}Thanks for waiting.", "Thanks, {{ custmer }}."))
    (problem,) = _problems(path)
    assert (problem.line, problem.column) == (24, 11)
    assert "undefined variable 'custmer'" in problem.message


def test_playbook_package_does_not_import_prefect() -> None:
    """Validating playbooks stays light: the playbook package never imports prefect."""
    code = "import sys, crisiscast.playbook; print('prefect' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
