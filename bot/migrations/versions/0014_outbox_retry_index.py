"""outbox_jobs: a partial index of the sends waiting for a retry

Before each send the worker asks whether an earlier text to the same address was tried and
waits for its retry (bot/outbox/rows.py). That lookup sought the identity index, and so
depended on its statistics: after ANALYZE over a queue that was mostly addressless jobs
(follow-up and routing timers), SQLite judged the identity index useless and walked every
earlier job by rowid instead: 1.9 million virtual-machine steps, 25 ms per message received,
on a million contacts. This index holds only the sends waiting for a retry, a handful.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AWAITING_RETRY = "kind = 'send' AND status = 'pending' AND attempts > 0"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_sends_awaiting_retry",
        "outbox_jobs",
        ["identity_id", "id"],
        sqlite_where=sa.text(AWAITING_RETRY),
        postgresql_where=sa.text(AWAITING_RETRY),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_sends_awaiting_retry", table_name="outbox_jobs")
