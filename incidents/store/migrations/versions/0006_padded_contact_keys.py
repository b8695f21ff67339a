"""Contact ids in delivery keys are zero-padded to 12 digits: ``1:7:sms:c000000000041``.

Unpadded keys did not sort like their ids ("c2001" lies between "c20001" and "c30000"), so the
one-probe check that a broadcast batch is new nearly always failed and each key was looked up
(1M contacts x 2 channels: about 1.5 s of the broadcast). Rows keyed in the 0003 form get the
padded key, so a broadcast started before the upgrade and run again after it still finds its
rows and sends nobody twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_PREFIX = (
    "CAST(incident_id AS VARCHAR) || ':' || CAST(announcement_id AS VARCHAR) || ':' || "
    "channel || ':' || 'c'"
)
_PLAIN = "CAST(contact_id AS VARCHAR)"


def _padded() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"lpad({_PLAIN}, 12, '0')"
    return "printf('%012d', contact_id)"


def _rekey(old: str, new: str) -> None:
    """Give contact rows keyed ``prefix || old`` the key ``prefix || new``."""
    op.execute(
        f"UPDATE deliveries SET idempotency_key = {_PREFIX} || {new} "  # noqa: S608 - fixed SQL
        f"WHERE contact_id IS NOT NULL AND idempotency_key = {_PREFIX} || {old}"
    )


def upgrade() -> None:
    _rekey(_PLAIN, _padded())


def downgrade() -> None:
    """Keys go back to the unpadded form of 0003."""
    _rekey(_padded(), _PLAIN)
