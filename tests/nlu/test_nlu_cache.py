"""The model cache: a second build loads it; a corrupt or stale cache is ignored and rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.classifier import BuiltinInterpreter

SMALL = """\
version: "3.1"
nlu:
- intent: request_help
  examples: |
    - necesito ayuda
    - quiero dejar de consumir
    - busco tratamiento
- intent: crisis_overdose
  examples: |
    - mi amigo no respira
    - se esta poniendo azul
    - no despierta
- intent: opt_out
  examples: |
    - ya no me escriban
    - dejen de escribirme
    - no me manden mensajes
"""


@pytest.fixture()
def small_data(tmp_path: Path) -> Path:
    """A tiny Spanish data set: each test trains in milliseconds."""
    folder = tmp_path / "nlu"
    folder.mkdir()
    (folder / "es.yml").write_text(SMALL, encoding="utf-8")
    return folder


def test_second_build_loads_the_cache(small_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = BuiltinInterpreter(["es"], small_data, cache_dir=cache)
    assert first.model_sources == {"es": "trained"}
    assert len(list(cache.glob("nlu-es-*.npz"))) == 1
    second = BuiltinInterpreter(["es"], small_data, cache_dir=cache)
    assert second.model_sources == {"es": "cache"}
    for text in ("necesito ayuda", "mi amigo no respira", "ya no me escriban"):
        assert second.parse(text, "es") == first.parse(text, "es")


def test_corrupt_cache_is_retrained(small_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    BuiltinInterpreter(["es"], small_data, cache_dir=cache)
    (path,) = cache.glob("nlu-es-*.npz")
    path.write_bytes(b"\x00garbage, not a model")
    rebuilt = BuiltinInterpreter(["es"], small_data, cache_dir=cache)
    assert rebuilt.model_sources == {"es": "trained"}
    assert rebuilt.parse("necesito ayuda", "es").intent == "request_help"
    assert BuiltinInterpreter(["es"], small_data, cache_dir=cache).model_sources == {"es": "cache"}


def test_changed_data_does_not_reuse_the_cache(small_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    BuiltinInterpreter(["es"], small_data, cache_dir=cache)
    with (small_data / "es.yml").open("a", encoding="utf-8") as handle:
        handle.write("\n# edited\n")
    assert BuiltinInterpreter(["es"], small_data, cache_dir=cache).model_sources == {
        "es": "trained"
    }
    assert len(list(cache.glob("nlu-es-*.npz"))) == 2


def test_no_data_for_any_language_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no NLU training data"):
        BuiltinInterpreter(["fr"], tmp_path)
