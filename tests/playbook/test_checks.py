import re
from pathlib import Path

import pytest
from playbook_paths import ROOT

from crisiscast.errors import PlaybookError, Problem
from crisiscast.playbook import load_playbook

SAAS = (ROOT / "playbooks" / "saas-outage.yaml").read_text(encoding="utf-8")

# (change to the SaaS playbook: old -> new), key path, words the one message must contain
EDITS = [
    (
        ("channels: [email, banner, social]}", "channels: [email, banner, social, fax]}"),
        "audiences.customers.channels[3]",
        ["'sms', 'email', 'social', 'banner' or 'chat'", "'fax'"],
    ),
    (
        ("    channel: live_chat\n", "    channel: telegram\n"),
        "routes[0].channel",
        ["'live_chat'", "'telegram'"],
    ),
    (
        ('  staff: {description: "Support and engineering channels", channels: [chat]}\n', ""),
        "",
        [],
    ),
    (
        ("answered_by: [people_affected]", "answered_by: [people]"),
        "triage_questions[0].answered_by[0]",
        ["'people' is not a signal", "people_affected"],
    ),
    (
        ("    minor: {critical: medium, high: medium, medium: low, low: low}\n", ""),
        "severity.matrix",
        ["no row for impact 'minor'"],
    ),
    (
        ("default: {impact: minor, urgency: low}", "default: {impact: tiny, urgency: low}"),
        "severity.default.impact",
        ["'tiny' is not an impact label", "extensive, significant, moderate, minor"],
    ),
    (
        (
            "  workaround: {type: string,",
            '  language: {type: string, default: "fr"}\n  workaround: {type: string,',
        ),
        "parameters.language",
        ["taken by a template variable"],
    ),
    (
        ("  announcement: all-clear", "  announcement: progress"),
        "stand_down.announcement",
        ["'progress' is sent at update, not all_clear"],
    ),
    (
        (
            "activate_when_backlog: 20, release_when_backlog: 5",
            "activate_when_backlog: 5, release_when_backlog: 5",
        ),
        "staffing.temporary_agents",
        ["release_when_backlog must be below activate_when_backlog"],
    ),
    (
        ('target: "+15005550006"', "target: +15005550006"),
        "routes[3].target",
        ["expected text, got 15005550006", 'quote it, e.g. "15005550006"'],
    ),
    (
        ('target: "https://status.example.com/chat"', 'target: "status.example.com/chat"'),
        "routes[0]",
        ["live_chat route needs a URL target"],
    ),
    (
        (
            "{name: high, first_response: 1h, resolution: 4h}",
            "{name: high, first_response: 5h, resolution: 4h}",
        ),
        "severity.levels[1]",
        ["first_response is later than resolution"],
    ),
    (
        ('patterns: {en: ["overwhelmed"', 'patterns: {th: ["เหนื่อย"], en: ["overwhelmed"'),
        "severity.signals[3].patterns.th",
        ["patterns in 'th', which is not in languages [en]"],
    ),
    (
        (
            "  eta_minutes: {type: integer, default: 60,",
            "  eta_minutes: {type: integer, required: true, default: 60,",
        ),
        "parameters.eta_minutes",
        ["either required or has a default"],
    ),
    (
        (
            "region: {type: choice, choices: [all, eu, us, apac], default: all,",
            "region: {type: choice, default: all,",
        ),
        "parameters.region",
        ["needs `choices`"],
    ),
]


def _load_edited(tmp_path: Path, old: str, new: str) -> list[Problem]:
    assert old in SAAS, old
    path = tmp_path / "edited.yaml"
    path.write_text(SAAS.replace(old, new, 1), encoding="utf-8")
    try:
        load_playbook(path)
    except PlaybookError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(("edit", "key", "words"), EDITS, ids=[e[1] or "valid" for e in EDITS])
def test_cross_field_mistakes_are_located(
    tmp_path: Path, edit: tuple[str, str], key: str, words: list[str]
) -> None:
    """Each mistake gives one problem at its key path, with a line, saying what to use instead."""
    problems = _load_edited(tmp_path, *edit)
    if not key:  # removing an audience that is optional is not a mistake
        assert problems == []
        return
    assert len(problems) == 1, [str(p) for p in problems]
    (problem,) = problems
    assert problem.path == key
    assert problem.line is not None and problem.column is not None
    for word in words:
        assert word in problem.message


def test_audience_names_are_snake_case(tmp_path: Path) -> None:
    """An audience name with a dash is refused with the naming rule."""
    problems = _load_edited(
        tmp_path,
        "  staff: {",
        '  walk-ins: {description: "Visitors", channels: [banner]}\n  staff: {',
    )
    assert [p.path for p in problems] == ["audiences.walk-ins"]
    assert "lowercase letters, digits and '_'" in problems[0].message


def test_audience_channel_without_announcement(tmp_path: Path) -> None:
    """Removing the only chat message leaves the staff audience's chat channel uncovered."""
    text = re.sub(r"      chat:\n        text: .*\n", "", SAAS)
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    (problem,) = caught.value.problems
    assert problem.path == "audiences.staff.channels[0]"
    assert "no announcement has a chat message" in problem.message
    assert problem.line == 19


def test_no_launch_announcement(tmp_path: Path) -> None:
    """A playbook whose announcements are never sent at launch is refused."""
    problems = _load_edited(tmp_path, "    when: launch", "    when: update")
    assert [p.path for p in problems] == ["announcements"]
    assert "when: launch" in problems[0].message


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Nested YAML aliases that expand to billions of values are refused, not validated."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)
    ]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PlaybookError, match="expands to more than 50000 values"):
        load_playbook(path)
