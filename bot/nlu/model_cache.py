"""An on-disk cache of trained models, keyed by the training data and the code that used it."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from bot.nlu.linear_model import FittedModel

log = logging.getLogger(__name__)

#: Bump when featurisation or training changes, so stale caches are not reused.
CODE_VERSION = "builtin-nlu-1"


def cache_key(data_file: Path, settings: str) -> str:
    """SHA-256 of the data file bytes, the code version and the training settings."""
    digest = hashlib.sha256()
    digest.update(CODE_VERSION.encode())
    digest.update(b"\0")
    digest.update(settings.encode())
    digest.update(b"\0")
    digest.update(data_file.read_bytes())
    return digest.hexdigest()


def cache_path(cache_dir: Path, language: str, key: str) -> Path:
    """Where the model for `language` trained on data with `key` is stored."""
    return cache_dir / f"nlu-{language}-{key[:32]}.npz"


def load_cached(path: Path) -> FittedModel | None:
    """The cached model, or None when missing or unreadable (then we retrain)."""
    if not path.is_file():
        return None
    try:
        return FittedModel.load(path)
    except Exception as exc:  # a corrupt cache must never stop the bot
        log.warning("ignoring unreadable NLU cache %s: %s", path.name, type(exc).__name__)
        return None


def store(path: Path, model: FittedModel) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a cache file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            model.save(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:  # a read-only cache dir only costs training time
        log.warning("could not write NLU cache %s: %s", path.name, exc)
