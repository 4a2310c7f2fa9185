"""handoff offers, responder contacts, routing state

Revision ID: 0005
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoff_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("responder_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("escalation", sa.Boolean(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name=op.f("fk_handoff_offers_handoff_id_handoffs")
        ),
        sa.ForeignKeyConstraint(
            ["responder_id"],
            ["responders.id"],
            name=op.f("fk_handoff_offers_responder_id_responders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_offers")),
        sa.UniqueConstraint(
            "handoff_id", "responder_id", "round", name=op.f("uq_handoff_offers_handoff_id")
        ),
    )
    with op.batch_alter_table("handoff_offers") as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_offers_handoff_id"), ["handoff_id"])
        batch_op.create_index(
            "ix_handoff_offers_responder_status", ["responder_id", "status"], unique=False
        )
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(sa.Column("responder_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_contacts_responder_id"), ["responder_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_contacts_responder_id_responders"),
            "responders",
            ["responder_id"],
            ["id"],
        )
    with op.batch_alter_table("handoffs") as batch_op:
        batch_op.add_column(sa.Column("info_topic", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("routing_round", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("checkins", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch_op:
        batch_op.drop_column("checkins")
        batch_op.drop_column("routing_round")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("info_topic")
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_constraint("fk_contacts_responder_id_responders", type_="foreignkey")
        batch_op.drop_index("ix_contacts_responder_id")
        batch_op.drop_column("responder_id")
    op.drop_table("handoff_offers")
