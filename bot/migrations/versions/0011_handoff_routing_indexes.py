"""handoffs: partial indexes for the two lookups routing makes for every handoff

Open handoffs per responder and the times already booked were read through the status index
or the responder index. Once a database holds many closed handoffs (and its planner has
statistics, e.g. after ANALYZE), SQLite scanned them all at every route: 7-80 ms each with
100,000 closed handoffs. Partial indexes hold only the rows those lookups want.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDS_CAPACITY = "status IN ('offered', 'accepted', 'connected')"
BOOKED = "status = 'accepted'"


def upgrade() -> None:
    op.create_index(
        "ix_handoffs_open_by_responder",
        "handoffs",
        ["responder_id"],
        sqlite_where=sa.text(HOLDS_CAPACITY),
        postgresql_where=sa.text(HOLDS_CAPACITY),
    )
    op.create_index(
        "ix_handoffs_booked",
        "handoffs",
        ["scheduled_for"],
        sqlite_where=sa.text(BOOKED),
        postgresql_where=sa.text(BOOKED),
    )


def downgrade() -> None:
    op.drop_index("ix_handoffs_booked", table_name="handoffs")
    op.drop_index("ix_handoffs_open_by_responder", table_name="handoffs")
