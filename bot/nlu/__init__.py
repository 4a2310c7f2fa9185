"""Intent interpretation: the built-in classifier, optionally behind a Rasa server."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.nlu.base import CRISIS_INTENTS, INTENTS, Entity, Interpreter, Parse

__all__ = ["CRISIS_INTENTS", "INTENTS", "Entity", "Interpreter", "Parse", "build_interpreter"]


def build_interpreter(
    languages: Sequence[str],
    *,
    rasa_url: str | None = None,
    rasa_token: str | None = None,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    rasa_timeout: float = 1.0,
    train_elsewhere: bool = False,
) -> Interpreter:
    """The interpreter for the enabled languages; Rasa first when `rasa_url` is set.

    The built-in classifier is always built: it answers whenever Rasa is slow, down or
    confused. A `rasa_url` containing "{language}" serves every language (one Rasa model
    each); a plain URL serves only the first enabled language.
    """
    from bot.nlu.classifier import BuiltinInterpreter

    builtin = BuiltinInterpreter(
        languages, data_dir, cache_dir=cache_dir, train_elsewhere=train_elsewhere
    )
    if not rasa_url:
        return builtin
    from bot.nlu.rasa_http import RasaInterpreter

    served = None if "{language}" in rasa_url else list(languages[:1]) or ["en"]
    return RasaInterpreter(
        rasa_url, rasa_token, fallback=builtin, timeout=rasa_timeout, languages=served
    )
