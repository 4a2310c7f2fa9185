"""events: the index of a handoff's events holds only the events that have one

Each re-route of an unanswered handoff asks whether the person was already told
(`handoff_id = ? AND kind = 'handoff_unanswered'`, bot/handoff/offers.py). Most events have
no handoff, and ANALYZE counts their NULLs as one key: beside 10,000,000 events it judged the
handoff index useless (10,000,000 rows a key) and SQLite read every event of the kind
instead, more at every re-route as they accumulated. This partial index holds the handoffs'
events alone, with the kind, and replaces the plain one.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ABOUT_A_HANDOFF = "handoff_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_events_handoff_kind",
        "events",
        ["handoff_id", "kind"],
        sqlite_where=sa.text(ABOUT_A_HANDOFF),
        postgresql_where=sa.text(ABOUT_A_HANDOFF),
    )
    op.drop_index("ix_events_handoff_id", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_handoff_id", "events", ["handoff_id"])
    op.drop_index("ix_events_handoff_kind", table_name="events")
