"""Who may do what: one matrix of roles x actions, checked by every API route and page.

Commanders run incidents; comms compose and approve messages; agents work cases; viewers
read. Kept as data so the role-matrix test can walk every route with every role and compare
the answer with this table.
"""

from __future__ import annotations

from collections.abc import Mapping

# The values of ``store.models.UserRole`` (a StrEnum, so its members compare equal to these);
# plain strings keep this module free of the store.
C, M, A, V = "commander", "comms", "agent", "viewer"
ROLES = (C, M, A, V)

PERMISSIONS: Mapping[str, frozenset[str]] = {
    "incident.read": frozenset({C, M, A, V}),
    "incident.preview": frozenset({C, M}),
    "incident.launch": frozenset({C}),
    "incident.update": frozenset({C, M}),
    "incident.recall": frozenset({C}),
    "incident.stand_down": frozenset({C}),
    "approval.decide": frozenset({C, M}),
    "case.read": frozenset({C, M, A, V}),
    "case.work": frozenset({C, A}),  # assign, status, note, reply
    "agent.read": frozenset({C, M, A, V}),
    "agent.manage": frozenset({C}),
    "user.read": frozenset({C}),
    "user.manage": frozenset({C}),
    "audit.read": frozenset({C}),
}


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action`` (an unknown action is refused to everyone)."""
    return role in PERMISSIONS.get(action, frozenset())
