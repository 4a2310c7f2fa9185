"""Where the shipped data folders (`dialogues/`, `locales/`) live, installed or not."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _find(name: str, override_var: str) -> Path:
    """A source checkout or editable install keeps the folder beside `bot/`;
    a wheel install puts it under `<prefix>/share/doorway/`."""
    override = os.environ.get(override_var)
    if override:
        return Path(override)
    candidates = [
        _SOURCE_ROOT / name,
        Path(sysconfig.get_path("data")) / "share" / "doorway" / name,
        Path(sys.prefix) / "share" / "doorway" / name,
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def dialogues_dir() -> Path:
    """The folder holding dialogue flows, the demo program and NLU data."""
    return _find("dialogues", "DOORWAY_DIALOGUES_DIR")


def locales_dir() -> Path:
    """The folder holding the gettext catalogs."""
    return _find("locales", "DOORWAY_LOCALES_DIR")
