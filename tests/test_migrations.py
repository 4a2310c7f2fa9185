"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.db import _alembic_config, head_revision, is_current, upgrade
from bot.models import Base
from bot.services import Services


def test_models_and_migrations_agree(services: Services) -> None:
    with services.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert is_current(services.engine)


def test_one_linear_history(services: Services) -> None:
    script = ScriptDirectory.from_config(_alembic_config(services.engine))
    assert len(script.get_heads()) == 1
    # Readiness checks the database against this without importing Alembic.
    assert script.get_heads() == [head_revision()]
    upgrade(services.engine)  # upgrading an up-to-date database changes nothing
    assert is_current(services.engine)
