"""Escalation: the playbook's rules on SLA breaches, once each, and customer reminders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crisiscast.incidents.cases.escalation import (
    Action,
    ActionKind,
    OpenCase,
    escalate,
    findings,
    playbook_window,
)
from crisiscast.incidents.cases.sla import Clock, SlaTimer, pause
from crisiscast.incidents.store.models import Case
from crisiscast.playbook import load_playbook
from crisiscast.playbook.schema import EscalationRule

OPENED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
RULES = load_playbook("playbooks/regional-flood.yaml").escalation


def _case(case_id: int, holder: int | None = 7, **timer: datetime) -> OpenCase:
    start = SlaTimer.start(OPENED, timedelta(minutes=15), timedelta(hours=2))
    return OpenCase(case_id, "urgent", replace(start, **timer), holder)


def test_the_flood_playbook_rules_are_what_the_tests_assume() -> None:
    """regional-flood: late first response -> repage + backup; late resolution -> commander."""
    assert [(r.when, r.action) for r in RULES] == [
        ("first_response_breach", "repage"),
        ("first_response_breach", "page_backup"),
        ("resolution_breach", "notify_commander"),
    ]


def test_nothing_happens_before_a_breach() -> None:
    """A case within its targets produces no action."""
    assert escalate([_case(1)], RULES, OPENED + timedelta(minutes=14)) == []


def test_first_response_breach_repages_the_holder_and_pages_a_backup() -> None:
    """At the first-response due time the holder is re-paged and a backup is paged."""
    actions = escalate([_case(1)], RULES, OPENED + timedelta(minutes=15))
    assert actions == [
        Action(ActionKind.REPAGE, 1, "first_response_breach", "1:first_response_breach:repage", 7),
        Action(
            ActionKind.PAGE_BACKUP,
            1,
            "first_response_breach",
            "1:first_response_breach:page_backup",
        ),
    ]


def test_an_unassigned_case_is_not_repaged_but_gets_a_backup() -> None:
    """With nobody holding the case there is no one to re-page; the backup is still paged."""
    actions = escalate([_case(1, holder=None)], RULES, OPENED + timedelta(minutes=20))
    assert [a.kind for a in actions] == [ActionKind.PAGE_BACKUP]


def test_resolution_breach_notifies_the_commander() -> None:
    """Past the resolution due time (first response given in time) the commander is told."""
    case = _case(1, first_responded_at=OPENED + timedelta(minutes=5))
    actions = escalate([case], RULES, OPENED + timedelta(hours=2, minutes=1))
    assert [(a.kind, a.agent_id) for a in actions] == [(ActionKind.NOTIFY_COMMANDER, None)]


def test_each_breach_escalates_once() -> None:
    """Keys already acted on are not returned again by the next sweep."""
    now = OPENED + timedelta(hours=3)
    first = escalate([_case(1)], RULES, now)
    assert len(first) == 3
    assert (
        escalate([_case(1)], RULES, now + timedelta(minutes=1), done={a.key for a in first}) == []
    )


def test_a_playbook_without_rules_escalates_nothing() -> None:
    """No escalation section: breaches are found but nobody is paged."""
    assert escalate([_case(1)], [], OPENED + timedelta(hours=3)) == []


def test_rules_apply_only_to_their_own_clock() -> None:
    """A resolution-only rule ignores a first-response breach."""
    rules = [EscalationRule(when="resolution_breach", action="repage")]
    assert escalate([_case(1)], rules, OPENED + timedelta(minutes=30)) == []
    assert [a.kind for a in escalate([_case(1)], rules, OPENED + timedelta(hours=2))] == [
        ActionKind.REPAGE
    ]


def test_a_quiet_customer_is_reminded_once_per_wait() -> None:
    """Waiting on the customer for 2 hours sends one reminder; a paused case does not breach."""
    paused_at = OPENED + timedelta(minutes=5)
    case = OpenCase(1, "urgent", pause(_case(1).timer, paused_at), 7)
    assert escalate([case], RULES, paused_at + timedelta(minutes=119)) == []
    actions = escalate([case], RULES, paused_at + timedelta(hours=2))
    assert [a.kind for a in actions] == [ActionKind.REMIND_CUSTOMER]
    later = escalate([case], RULES, paused_at + timedelta(hours=5), done={actions[0].key})
    assert later == []
    custom = escalate(
        [case], RULES, paused_at + timedelta(minutes=30), remind_after=timedelta(minutes=30)
    )
    assert [a.kind for a in custom] == [ActionKind.REMIND_CUSTOMER]


def test_findings_list_nearing_and_breached_cases_per_clock() -> None:
    """The sweep summary: case 1 nearing its first response, case 2 past it."""
    nearly = _case(1, first_response_due=OPENED + timedelta(minutes=18))
    window = playbook_window(load_playbook("playbooks/regional-flood.yaml").severity)
    result = findings([nearly, _case(2)], OPENED + timedelta(minutes=16), window)
    assert result.nearing[Clock.FIRST_RESPONSE] == (1,)
    assert result.breached[Clock.FIRST_RESPONSE] == (2,)
    assert result.breached[Clock.RESOLUTION] == ()


def test_playbook_windows_are_a_quarter_of_each_target() -> None:
    """urgent in the flood playbook: 15m first response -> 3m45s; 2h resolution -> 30m."""
    window = playbook_window(load_playbook("playbooks/regional-flood.yaml").severity)
    case = _case(1)
    assert window(case, Clock.FIRST_RESPONSE) == timedelta(minutes=3, seconds=45)
    assert window(case, Clock.RESOLUTION) == timedelta(minutes=30)
    unknown = OpenCase(2, "catastrophic", case.timer)
    assert window(unknown, Clock.RESOLUTION) == timedelta(0)


def test_open_case_reads_a_stored_case() -> None:
    """OpenCase.of takes the id, severity and SLA clocks of a Case row."""
    row = Case(
        id=5, channel="sms", severity="urgent", opened_at=OPENED,
        first_response_due=OPENED + timedelta(minutes=15), resolution_due=None,
        paused_total_seconds=0,
    )  # fmt: skip
    case = OpenCase.of(row, holder=3)
    assert (case.id, case.severity, case.holder) == (5, "urgent", 3)
    assert case.timer.first_response_due == OPENED + timedelta(minutes=15)
