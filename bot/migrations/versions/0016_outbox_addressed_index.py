"""outbox_jobs: the index of an address's jobs holds only the jobs that have one

At STOP, when a number turns out not to exist and at erasure, the jobs still pending for an
address are cancelled (`identity_id = ? AND status = 'pending'`). Timers have no address,
and ANALYZE counts their NULLs as one key: beside a follow-up campaign's timers SQLite
judged the identity index useless and cancelled by the status index, reading every pending
job of every person. This partial index holds the addressed jobs alone, with the status,
and replaces the plain one.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TO_AN_ADDRESS = "identity_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_addressed_status",
        "outbox_jobs",
        ["identity_id", "status"],
        sqlite_where=sa.text(TO_AN_ADDRESS),
        postgresql_where=sa.text(TO_AN_ADDRESS),
    )
    op.drop_index("ix_outbox_jobs_identity_id", table_name="outbox_jobs")


def downgrade() -> None:
    op.create_index("ix_outbox_jobs_identity_id", "outbox_jobs", ["identity_id"])
    op.drop_index("ix_outbox_addressed_status", table_name="outbox_jobs")
