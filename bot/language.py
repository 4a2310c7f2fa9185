"""Which language to speak: explicit requests, detection of a first message, the offer line."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bot.nlu.normalize import fold
from bot.paths import dialogues_dir

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Below this the detector guesses (lingua gives "hola" to French at 0.35).
MIN_CONFIDENCE = 0.8
#: Letters needed before a Latin-script message is worth detecting: "hi", "ok", "yes" are not.
MIN_LETTERS = 6
#: Scripts only one of our languages uses are decided by the detector's script rules at once.
MIN_LETTERS_OWN_SCRIPT = 2
OFFER_SEPARATOR = " · "
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class LanguageInfo:
    """One language as the data file describes it."""

    code: str
    own_name: str
    english_name: str
    reply: str
    offer: str
    detector: str | None
    names: tuple[str, ...]


@dataclass(frozen=True)
class LanguageTable:
    """Everything in `dialogues/languages.yaml`, folded for matching."""

    languages: dict[str, LanguageInfo]
    request_words: frozenset[str]
    kreyol_words: frozenset[str]
    kreyol_markers: frozenset[str]

    def known(self) -> list[str]:
        return list(self.languages)

    # Folded once: folding every code and name cost about 0.4 ms of each inbound message.

    @functools.cached_property
    def folded_codes(self) -> dict[str, str]:
        """What a bare code request looks like folded ("es", "zh-hans", the reply word)."""
        found: dict[str, str] = {}
        for info in self.languages.values():
            for written in (info.reply, info.code, info.code.replace("_", "-")):
                found.setdefault(fold(written), info.code)
        return found

    @functools.cached_property
    def folded_names(self) -> dict[str, str]:
        """Folded name -> code, including each language's own and English names."""
        found: dict[str, str] = {}
        for info in self.languages.values():
            for name in (info.own_name, info.english_name, *info.names):
                found.setdefault(fold(name), info.code)
        return found

    @functools.cached_property
    def name_pattern(self) -> re.Pattern[str] | None:
        """Any known name as a whole word (inside a word for unspaced scripts)."""
        return _name_pattern(self.folded_names) if self.folded_names else None


def load_table(path: Path) -> LanguageTable:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    languages = {
        code: LanguageInfo(
            code=code,
            own_name=str(item["own_name"]),
            english_name=str(item["english_name"]),
            reply=str(item["reply"]),
            offer=str(item["offer"]),
            detector=item.get("detector"),
            names=tuple(str(n) for n in item.get("names", ())),
        )
        for code, item in raw["languages"].items()
    }
    return LanguageTable(
        languages=languages,
        request_words=frozenset(fold(str(w)) for w in raw.get("request_words", ())),
        kreyol_words=frozenset(fold(str(w)) for w in raw.get("kreyol_words", ())),
        kreyol_markers=frozenset(fold(str(w)) for w in raw.get("kreyol_markers", ())),
    )


@functools.cache
def table(path: Path | None = None) -> LanguageTable:
    """The shipped table, read once."""
    return load_table(path or dialogues_dir() / "languages.yaml")


# --- explicit requests -----------------------------------------------------------------------


def _attached_script(name: str) -> bool:
    """Chinese and Japanese have no spaces and Korean attaches particles ("한국어로"), so
    their names match inside a longer run of letters."""
    return any(
        unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))
        for ch in name
    )


def _name_pattern(names: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(names, key=len, reverse=True)
    parts = []
    for name in ordered:
        escaped = re.escape(name)
        parts.append(escaped if _attached_script(name) else rf"(?<!\w){escaped}(?!\w)")
    return re.compile("|".join(parts))


def requested_language(text: str, languages: LanguageTable | None = None) -> str | None:
    """The known language a message asks for: a bare code ("ES", "zh") or a name with only
    request words around it ("en español por favor"). Anything else is not a request, so a
    name mentioned in passing ("my mom speaks spanish") never switches."""
    languages = languages or table()
    said = fold(text).strip().strip(".!?¿¡。！？ ")
    code = languages.folded_codes.get(said)
    if code is not None:
        return code
    names, pattern = languages.folded_names, languages.name_pattern
    if not said or pattern is None:
        return None
    found = {names[m.group(0)] for m in pattern.finditer(said)}
    if len(found) != 1:
        return None
    leftover = _WORD.findall(pattern.sub(" ", said))
    if all(_is_request_word(word, languages.request_words) for word in leftover):
        return found.pop()
    return None


def _is_request_word(word: str, request_words: frozenset[str]) -> bool:
    if word in request_words:
        return True
    if not _attached_script(word):
        return False
    # Unspaced scripts run request words together ("请说" is "请" + "说").
    for known in sorted(request_words, key=len, reverse=True):
        if _attached_script(known):
            word = word.replace(known, "")
    return not word


def explicit_language_request(
    text: str, enabled: Collection[str], languages: LanguageTable | None = None
) -> str | None:
    """An explicit request for one of the enabled languages."""
    code = requested_language(text, languages)
    return code if code in enabled else None


# --- detection -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _detector(names: frozenset[str]) -> LanguageDetector:
    """Built once per language set. Low-accuracy mode (trigrams only) costs about 14 MB for
    ten languages, against about 145 MB for the full models: the service must stay small."""
    from lingua import Language, LanguageDetectorBuilder

    chosen = [getattr(Language, name) for name in sorted(names)]
    return LanguageDetectorBuilder.from_languages(*chosen).with_low_accuracy_mode().build()


def _letters(text: str) -> tuple[int, bool]:
    """How many letters, and whether they are all in a script only one of ours uses."""
    letters = [ch for ch in text if ch.isalpha()]
    own = bool(letters) and all(
        unicodedata.name(ch, "").startswith(("CJK", "HANGUL", "ARABIC", "CYRILLIC"))
        for ch in letters
    )
    return len(letters), own


def looks_kreyol(text: str, languages: LanguageTable | None = None) -> bool:
    """Mostly common Kreyòl words, with at least one no other language of ours uses."""
    languages = languages or table()
    words = _WORD.findall(fold(text))
    if not words:
        return False
    hits = sum(word in languages.kreyol_words for word in words)
    marked = any(word in languages.kreyol_markers for word in words)
    return (marked and hits / len(words) >= 0.4) or (len(words) >= 3 and hits / len(words) >= 0.75)


def _by_detector_name(candidates: Iterable[str], languages: LanguageTable) -> dict[str, str]:
    """Our language codes by the detector's names for them (some it does not know)."""
    return {
        info.detector: code
        for code in candidates
        if (info := languages.languages[code]).detector is not None
    }


def warm_detector(enabled: Iterable[str], languages: LanguageTable | None = None) -> None:
    """Build now the detector `detect_language` would build on the first message it judges
    (importing lingua and building it: about 21 ms). lingua still loads the models a text
    needs when it first judges one (about 70 ms once): preloading all of them cost 5-7 MB
    of the 200 MB a server may use."""
    languages = languages or table()
    candidates = [code for code in enabled if code in languages.languages]
    by_name = _by_detector_name(candidates, languages)
    if len(by_name) >= 2:
        _detector(frozenset(by_name))


def detect_language(
    text: str, enabled: Iterable[str], languages: LanguageTable | None = None
) -> str | None:
    """The language of a free-text message, among `enabled`; None when it is too short or the
    detector is not sure ("hi", "ok", "1")."""
    languages = languages or table()
    candidates = [code for code in enabled if code in languages.languages]
    if "ht" in candidates and looks_kreyol(text, languages):
        return "ht"
    count, own_script = _letters(text)
    if count < (MIN_LETTERS_OWN_SCRIPT if own_script else MIN_LETTERS):
        return None
    by_name = _by_detector_name(candidates, languages)
    if len(by_name) < 2:
        return None  # with one candidate the detector cannot tell us anything
    values = _detector(frozenset(by_name)).compute_language_confidence_values(text)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    return by_name.get(values[0].language.name)


# --- offering the other languages ------------------------------------------------------------


def language_offer_line(
    enabled: Iterable[str], current: str, languages: LanguageTable | None = None
) -> str:
    """The offer, e.g. "Español: responde ES · Tiếng Việt: trả lời VI", for the enabled
    languages other than `current`."""
    languages = languages or table()
    return OFFER_SEPARATOR.join(
        languages.languages[code].offer
        for code in enabled
        if code != current and code in languages.languages
    )
