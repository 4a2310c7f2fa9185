"""Fixtures for the NLU tests: one trained interpreter per session, a shared model cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.classifier import BuiltinInterpreter
from bot.paths import dialogues_dir

HELDOUT_DIR = Path(__file__).resolve().parents[1] / "nlu_heldout"


@pytest.fixture(scope="session")
def nlu_data_dir() -> Path:
    return dialogues_dir() / "nlu"


@pytest.fixture(scope="session")
def nlu_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-cache")


@pytest.fixture(scope="session")
def nlu_interpreter(nlu_data_dir: Path, nlu_cache_dir: Path) -> BuiltinInterpreter:
    """Trained once; later builds with the same cache dir load instead of training."""
    return BuiltinInterpreter(["en", "es"], nlu_data_dir, cache_dir=nlu_cache_dir)
