"""Keys for a local or demo install, kept in the data folder apart from the database."""

from __future__ import annotations

import os
from pathlib import Path

from bot.config import Settings
from bot.crypto import generate_encryption_key, generate_index_key

KEYS_FILE = "keys.env"


def local_keys(data_dir: Path) -> tuple[dict[str, str], bool]:
    """Read the data folder's keys file, creating it (mode 600) on first use.

    Returns the values and whether they were just created.
    """
    path = data_dir / KEYS_FILE
    if path.is_file():
        values = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
        return values, False
    data_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "DOORWAY_ENCRYPTION_KEYS": generate_encryption_key(),
        "DOORWAY_INDEX_KEY": generate_index_key(),
        "DOORWAY_SECRET_KEY": generate_index_key(),
    }
    text = "# Demo keys made by `doorway demo`. Keep them apart from the database.\n"
    text += "".join(f"{name}={value}\n" for name, value in values.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return values, True


def with_local_keys(settings: Settings) -> tuple[Settings, str | None]:
    """On SQLite, fill missing keys from the data folder; returns a line saying so, if used."""
    if settings.encryption_keys and settings.index_key:
        return settings, None
    values, created = local_keys(settings.data_dir)
    updated = settings.model_copy(
        update={
            "encryption_keys": settings.encryption_keys or values["DOORWAY_ENCRYPTION_KEYS"],
            "index_key": settings.index_key or values["DOORWAY_INDEX_KEY"],
            "secret_key": settings.secret_key or values.get("DOORWAY_SECRET_KEY"),
        }
    )
    verb = "generated and stored" if created else "using"
    return (
        updated,
        f"Demo keys: {verb} {settings.data_dir / KEYS_FILE} (set DOORWAY_* keys for production)",
    )
