"""Alembic environment: runs migrations on the engine handed over by `bot.db`."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context

from bot.models import Base, Encrypted, UTCDateTime

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Migrations store plain column types; encryption happens in the ORM layer."""
    if type_ == "type" and isinstance(obj, Encrypted):
        return "sa.Text()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    engine: sa.Engine | None = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        assert url, "set sqlalchemy.url or pass an engine"
        engine = sa.create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_item=_render_item,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
