"""outbox_jobs (status, kind, due_at): the worker claims due timers apart from due sends

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_status_kind_due", "outbox_jobs", ["status", "kind", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_kind_due", table_name="outbox_jobs")
