"""Turning one message into sparse features: char n-grams, words, bigrams, regex and lookup hits."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping, Sequence

from bot.nlu.normalize import normalize, tokens

log = logging.getLogger(__name__)

#: Character n-gram sizes inside word boundaries (like scikit-learn's "char_wb"): they make
#: the model robust to typos ("hlep", "nesecito") and missing accents.
CHAR_NGRAMS = (1, 5)


def _compile_regexes(regexes: Mapping[str, Sequence[str]]) -> list[tuple[str, re.Pattern[str]]]:
    """A bad pattern in the data file must not take the bot down: skip it and say so."""
    compiled = []
    for name, patterns in regexes.items():
        for pattern in patterns:
            try:
                compiled.append((name, re.compile(pattern)))
            except re.error as exc:
                log.warning("NLU regex %r skipped: %s", name, exc)
    return compiled


class Featurizer:
    """Feature strings for a text; the same code runs at training and at parse time."""

    def __init__(
        self,
        language: str,
        *,
        regexes: Mapping[str, Sequence[str]] | None = None,
        lookups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.language = language
        self._regexes = _compile_regexes(regexes or {})
        self._lookups: list[tuple[str, re.Pattern[str]]] = []
        for name, values in (lookups or {}).items():
            folded = sorted(
                {normalize(value, language) for value in values if value.strip()},
                key=len,
                reverse=True,
            )
            if folded:
                alternation = "|".join(re.escape(value) for value in folded if value)
                self._lookups.append((name, re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")))

    def __call__(self, text: str) -> list[str]:
        """Feature names for `text`; empty when there is nothing to classify."""
        normalized = normalize(text, self.language)
        words = tokens(normalized)
        if not words:
            return []
        features = [f"w:{word}" for word in words]
        features.extend(f"b:{a} {b}" for a, b in itertools.pairwise(words))
        low, high = CHAR_NGRAMS
        for word in words:
            if not word[0].isalnum():
                continue
            padded = f" {word} "
            for size in range(low, min(high, len(padded)) + 1):
                features.extend(f"c:{padded[i : i + size]}" for i in range(len(padded) - size + 1))
        features.extend(f"re:{name}" for name, rx in self._regexes if rx.search(normalized))
        features.extend(f"lk:{name}" for name, rx in self._lookups if rx.search(normalized))
        return features
