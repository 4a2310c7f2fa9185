"""Nothing personal is readable at rest: the SQLite file (with its WAL) and a pg_dump."""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.models import Handoff
from bot.services import Services
from tests.privacy_support import NAME, full_conversation, secrets_in


def _database_bytes(services: Services) -> bytes:
    url = services.engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = sorted(path.parent.glob(path.name + "*"))  # the file, -wal and -shm
        assert any(f.name.endswith("-wal") for f in files), "expected WAL mode"
        return b"".join(f.read_bytes() for f in files)
    return _pg_dump(str(url.query["options"]))


def _pg_dump(options: str) -> bytes:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is missing: `apt-get install -y postgresql-client`")
    schema = urllib.parse.unquote(options).split("search_path=")[1]
    result = subprocess.run(
        [pg_dump, "-h", "127.0.0.1", "-U", "postgres", "-d", "test", f"--schema={schema}"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"CREATE TABLE" in result.stdout and b"COPY" in result.stdout
    return result.stdout


def test_no_phone_name_or_text_in_the_stored_bytes(services: Services) -> None:
    replies = full_conversation(services)
    with services.sessions() as session:
        assert session.scalars(select(Handoff)).one().display_name == NAME
    assert any("will reach out" in reply for reply in replies)
    stored = _database_bytes(services).decode("utf-8", "replace")
    assert secrets_in(stored) == []
    # Replies are message bodies too: a sentence the bot said must not be readable either.
    assert "will reach out" not in stored
