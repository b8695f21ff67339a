"""Rules that need the whole playbook: names that must refer to something defined elsewhere.

Each check returns findings (key path + message) rather than raising, so one run reports
every problem in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from crisiscast.playbook.locate import Finding, Path
from crisiscast.playbook.schema import Playbook, Severity

RESERVED_NAMES = {"incident", "routes", "resources", "language", "reassurance", "two_options"}


def cross_checks(playbook: Playbook) -> list[Finding]:
    """Every cross-reference problem in a playbook that passed the per-field checks."""
    findings: list[Finding] = []
    for check in (_languages, _parameters, _severity, _questions, _announcements, _stand_down):
        findings.extend(check(playbook))
    return findings


def _unique(names: Iterable[str], path: Path, what: str) -> Iterator[Finding]:
    seen: set[str] = set()
    for position, name in enumerate(names):
        if name in seen:
            yield Finding((*path, position), f"{what} {name!r} is defined twice: rename one")
        seen.add(name)


def _languages(playbook: Playbook) -> Iterator[Finding]:
    yield from _unique(playbook.languages, ("languages",), "language")


def _parameters(playbook: Playbook) -> Iterator[Finding]:
    for name in playbook.parameters:
        if name in RESERVED_NAMES:
            yield Finding(
                ("parameters", name),
                f"parameter name {name!r} is taken by a template variable "
                f"({', '.join(sorted(RESERVED_NAMES))}): choose another name",
            )


def _severity(playbook: Playbook) -> Iterator[Finding]:
    severity = playbook.severity
    yield from _unique((level.name for level in severity.levels), ("severity", "levels"), "level")
    yield from _unique(severity.impact, ("severity", "impact"), "impact label")
    yield from _unique(severity.urgency, ("severity", "urgency"), "urgency label")
    yield from _matrix(severity)
    for key, labels in (("impact", severity.impact), ("urgency", severity.urgency)):
        value = getattr(severity.default, key)
        if value not in labels:
            yield Finding(("severity", "default", key), _not_in(value, key, labels))
    yield from _unique((s.name for s in severity.signals), ("severity", "signals"), "signal")
    for position, signal in enumerate(severity.signals):
        path: Path = ("severity", "signals", position)
        for key, labels in (("impact", severity.impact), ("urgency", severity.urgency)):
            value = getattr(signal, key)
            if value is not None and value not in labels:
                yield Finding((*path, key), _not_in(value, key, labels))
        for language in signal.patterns:
            if language not in playbook.languages:
                yield Finding(
                    (*path, "patterns", language),
                    f"patterns in {language!r}, which is not in languages "
                    f"[{', '.join(playbook.languages)}]: add it there or remove these patterns",
                )


def _not_in(value: str, key: str, labels: list[str]) -> str:
    return f"{value!r} is not an {key} label: use one of {', '.join(labels)} (severity.{key})"


def _matrix(severity: Severity) -> Iterator[Finding]:
    levels = [level.name for level in severity.levels]
    for impact in severity.impact:
        if impact not in severity.matrix:
            yield Finding(("severity", "matrix"), f"no row for impact {impact!r}: add `{impact}:`")
    for impact, row in severity.matrix.items():
        path: Path = ("severity", "matrix", impact)
        if impact not in severity.impact:
            yield Finding(path, _not_in(impact, "impact", severity.impact))
            continue
        for urgency in severity.urgency:
            if urgency not in row:
                yield Finding(path, f"no cell for urgency {urgency!r}: add `{urgency}: <level>`")
        for urgency, level in row.items():
            if urgency not in severity.urgency:
                yield Finding((*path, urgency), _not_in(urgency, "urgency", severity.urgency))
            elif level not in levels:
                yield Finding(
                    (*path, urgency),
                    f"matrix cell {impact}/{urgency} names {level!r}, which is not a severity "
                    f"level: use one of {', '.join(levels)}",
                )


def _questions(playbook: Playbook) -> Iterator[Finding]:
    questions = playbook.triage_questions
    yield from _unique((q.id for q in questions), ("triage_questions",), "triage question")
    signals = [signal.name for signal in playbook.signals]
    for position, question in enumerate(questions):
        for index, name in enumerate(question.answered_by):
            if name not in signals:
                yield Finding(
                    ("triage_questions", position, "answered_by", index),
                    f"{name!r} is not a signal: use one of {', '.join(signals) or '(none defined)'}"
                    " or add it under severity.signals",
                )


def _announcements(playbook: Playbook) -> Iterator[Finding]:
    announcements = playbook.announcements
    yield from _unique((a.id for a in announcements), ("announcements",), "announcement")
    if not any(a.when == "launch" for a in announcements):
        yield Finding(
            ("announcements",),
            "no announcement has `when: launch`: add one, it is what goes out first",
        )
    covered = {kind for a in announcements for kind in a.channels.kinds()}
    for audience_name, audience in playbook.audiences.items():
        for position, kind in enumerate(audience.channels):
            if kind not in covered:
                yield Finding(
                    ("audiences", audience_name, "channels", position),
                    f"audience {audience_name!r} listens on {kind}, but no announcement has a "
                    f"{kind} message: add channels.{kind} to an announcement or remove it here",
                )


def _stand_down(playbook: Playbook) -> Iterator[Finding]:
    stand_down = playbook.stand_down
    if stand_down is None:
        return
    path: Path = ("stand_down", "announcement")
    clear = [a.id for a in playbook.announcements if a.when == "all_clear"]
    try:
        announcement = playbook.announcement(stand_down.announcement)
    except KeyError:
        yield Finding(
            path,
            f"no announcement {stand_down.announcement!r}: use one with when: all_clear "
            f"({', '.join(clear) or 'none yet: add one'})",
        )
        return
    if announcement.when != "all_clear":
        yield Finding(
            path,
            f"announcement {announcement.id!r} is sent at {announcement.when}, not all_clear: "
            "stand-down needs the all-clear announcement",
        )
