"""outbox_jobs: the claim reads only what is due, and sends someone waits for come first

The claim's condition was "pending and due, or running with its lease run out", one OR that
the partial index of 0012 (kind, due_at) could not bound: with fewer jobs due than a round
takes, SQLite read every live job of the kind, the ones weeks ahead included (a follow-up
timer for each person enrolled): each of a claim's two statements took 2.8 ms beside
10,000 of them and about 100 ms beside 100,000 (a claim with nothing due: 5.5 and 219 ms).
The claim now asks for the pending and the abandoned jobs apart, and this index gives the
first a seek that stops at the present. It also orders sends by `scheduled` (check-ins after
replies and alerts), which the index carries so the claim reads it alone.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('pending', 'running')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_live_kind_status_due",
        "outbox_jobs",
        ["kind", "status", "due_at", "scheduled"],
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.drop_index("ix_outbox_live_kind_due", table_name="outbox_jobs")


def downgrade() -> None:
    op.create_index(
        "ix_outbox_live_kind_due",
        "outbox_jobs",
        ["kind", "due_at"],
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.drop_index("ix_outbox_live_kind_status_due", table_name="outbox_jobs")
