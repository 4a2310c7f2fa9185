"""The built-in intent classifier: one TF-IDF + logistic-regression model per language."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.nlu.base import CRISIS_INTENTS, OUT_OF_SCOPE, Entity, Parse
from bot.nlu.entities import LANGUAGE, LanguageEntities
from bot.nlu.features import CHAR_NGRAMS, Featurizer
from bot.nlu.languages import resolve_language
from bot.nlu.linear_model import SOLVER, TOLERANCE, FittedModel, LinearModel
from bot.nlu.model_cache import cache_key, cache_path, load_cached, store
from bot.nlu.normalize import MAX_CHARS
from bot.nlu.training_data import NluData, available_languages, load_nlu

log = logging.getLogger(__name__)

#: Below this top probability the message is treated as out of scope (re-ask with options).
#: Tuned on tests/nlu_heldout: lower lets wrong guesses through, higher re-asks too often.
DEFAULT_THRESHOLD = 0.35
#: Crisis intents are kept at a lower probability: a needless crisis reply costs far less
#: than a missed one. The lexicon detector in bot.safety runs independently as well.
DEFAULT_CRISIS_THRESHOLD = 0.2
#: Regularisation of the logistic regression (higher C = less regularisation).
C = 20.0
RANDOM_STATE = 0
CHANGE_LANGUAGE = "change_language"


@dataclass(frozen=True)
class _LanguageModel:
    """Everything needed to parse one language."""

    language: str
    featurizer: Featurizer
    model: LinearModel
    entities: LanguageEntities


def _training_settings() -> str:
    return f"C={C};solver={SOLVER};tol={TOLERANCE};seed={RANDOM_STATE};char={CHAR_NGRAMS}"


def _train(language: str, data: NluData) -> FittedModel:
    featurizer = _featurizer(language, data)
    feature_lists = [featurizer(text) for text, _ in data.examples]
    labels = [intent for _, intent in data.examples]
    kept = [(f, label) for f, label in zip(feature_lists, labels, strict=True) if f]
    return FittedModel.fit(
        [f for f, _ in kept], [label for _, label in kept], c=C, random_state=RANDOM_STATE
    )


def _featurizer(language: str, data: NluData) -> Featurizer:
    return Featurizer(language, regexes=data.regexes, lookups=data.lookups)


def _missing(languages: Sequence[str], data_dir: Path, cache_dir: Path) -> list[str]:
    return [
        code
        for code in languages
        if not cache_path(
            cache_dir, code, cache_key(data_dir / f"{code}.yml", _training_settings())
        ).is_file()
    ]


def warm_cache_in_child(languages: Sequence[str], data_dir: Path, cache_dir: Path) -> None:
    """Train missing models in a separate process so the server never imports scikit-learn
    and SciPy (about 100 MB it would keep for life); it then loads the cached weights.
    If the child fails, the caller trains in-process as before."""
    missing = _missing(languages, data_dir, cache_dir)
    if not missing:
        return
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "bot.nlu.warm",
        "--data-dir",
        str(data_dir),
        "--cache-dir",
        str(cache_dir),
        *missing,
    ]
    try:
        subprocess.run(command, check=True, timeout=600, capture_output=True)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        log.warning("training NLU models in a child process failed; training in-process")


class BuiltinInterpreter:
    """Parses messages offline in about a tenth of a millisecond; never raises in `parse`."""

    def __init__(
        self,
        languages: Sequence[str],
        data_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        crisis_threshold: float = DEFAULT_CRISIS_THRESHOLD,
        train_elsewhere: bool = False,
    ) -> None:
        if data_dir is None:
            from bot.paths import dialogues_dir

            data_dir = dialogues_dir() / "nlu"
        self.threshold = threshold
        self.crisis_threshold = crisis_threshold
        #: How each model was obtained, "cache" or "trained" (for tests and start-up logs).
        self.model_sources: dict[str, str] = {}
        have = available_languages(data_dir)
        enabled: list[str] = []
        for requested in languages:
            code = resolve_language(requested, have, default="")
            if code and code not in enabled:
                enabled.append(code)
        if not enabled:  # no enabled language has data: serve everyone with English
            english = resolve_language("en", have, default="")
            if not english:
                raise ValueError(f"no NLU training data for {list(languages)} in {data_dir}")
            enabled = [english]
        # The first enabled language with data serves languages that have none.
        self.default_language = enabled[0]
        if cache_dir is not None and train_elsewhere:
            warm_cache_in_child(enabled, data_dir, cache_dir)
        self._models: dict[str, _LanguageModel] = {}
        for code in enabled:
            self._models[code] = self._load(code, data_dir / f"{code}.yml", cache_dir)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages a model was loaded for."""
        return tuple(self._models)

    def _load(self, language: str, path: Path, cache_dir: Path | None) -> _LanguageModel:
        data = load_nlu(path)
        fitted: FittedModel | None = None
        target: Path | None = None
        if cache_dir is not None:
            target = cache_path(cache_dir, language, cache_key(path, _training_settings()))
            fitted = load_cached(target)
        if fitted is not None:
            self.model_sources[language] = "cache"
        else:
            started = time.perf_counter()
            fitted = _train(language, data)
            log.info("trained NLU model %s in %.1fs", language, time.perf_counter() - started)
            self.model_sources[language] = "trained"
            if target is not None:
                store(target, fitted)
        names = data.lookups.get(LANGUAGE, ())
        return _LanguageModel(
            language=language,
            featurizer=_featurizer(language, data),
            model=LinearModel.from_fitted(fitted),
            entities=LanguageEntities(names, data.synonyms),
        )

    def parse(self, text: str, language: str) -> Parse:
        """Best intent for `text`; out_of_scope when unsure. Never raises."""
        try:
            if not isinstance(text, str):
                return Parse.unknown()
            code = resolve_language(language, self._models, default=self.default_language)
            return self._parse(self._models[code], text)
        except Exception:  # a parse failure must never leave a person without an answer
            log.exception("NLU parse failed; treating the message as out of scope")
            return Parse.unknown()

    def _parse(self, lm: _LanguageModel, text: str) -> Parse:
        features = lm.featurizer(text)
        entities: tuple[Entity, ...] = lm.entities.extract(text[:MAX_CHARS])
        if not features and not entities:
            return Parse.unknown()
        probs = lm.model.probabilities(features)
        order = np.argsort(-probs, kind="stable")
        ranking = tuple((lm.model.classes[i], round(float(probs[i]), 6)) for i in order)
        top, confidence = ranking[0]
        if lm.entities.is_only_language_request(text[:MAX_CHARS], entities, lm.language):
            intent, confidence = CHANGE_LANGUAGE, max(confidence, 0.95)
        elif confidence >= (self.crisis_threshold if top in CRISIS_INTENTS else self.threshold):
            intent = top
        else:
            intent = OUT_OF_SCOPE
            confidence = dict(ranking).get(OUT_OF_SCOPE, 0.0)
        return Parse(intent=intent, confidence=confidence, ranking=ranking, entities=entities)
