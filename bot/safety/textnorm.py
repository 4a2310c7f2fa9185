"""Text folding shared by the safety matchers: one normal form for messages and patterns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

#: How a language's patterns are fenced in. Latin, Cyrillic and Vietnamese text has spaces
#: between words, so a pattern must start and end on a word edge ("od" is not in "good").
#: Chinese has no spaces at all, and Korean and Arabic glue particles and clitics onto words
#: ("죽고싶어요", "وأريد"), so their patterns are written specific enough to match anywhere.
Boundary = Literal["word", "none"]

# Characters NFKD does not take apart but that people type without: Vietnamese đ, Nordic ø
# (seen in loanword typos), ligatures, and the Arabic letters whose spelling varies by writer.
_CHAR_MAP = str.maketrans(
    {
        "đ": "d",
        "ø": "o",
        "ł": "l",
        "æ": "ae",
        "œ": "oe",
        "ı": "i",
        "ى": "ي",  # alef maksura is often typed as yeh (and back)
        "ة": "ه",  # ta marbuta is often typed as heh
        "ـ": None,  # tatweel only stretches a word for looks
        "’": "'",
        "‘": "'",
        "ʼ": "'",
        "`": "'",
        "´": "'",
        "＇": "'",
        "。": ".",
        "，": ",",
        "、": ",",
        "！": "!",
        "？": "?",
        "；": ";",
        "؟": "?",
        "،": ",",
        "؛": ";",
    }
)

# Laughing emoji carry the "joking" signal the NLU veto needs, so they become a word before
# the other symbols are dropped.
_LAUGH_EMOJI = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f639\U0001f480]")

# Digits and symbols people swap for letters ("k1ll", "d13", "0d", "$uicide"). 4 and 8 are left
# alone because in texting they mean "for" and "-ate" ("4ever", "gr8").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_TOKEN = re.compile(r"[\w@$']+")
_HAS_LEET = re.compile(r"[01357@$]")
_HAS_LETTER = re.compile(r"[^\W\d_]")

# Runs of one letter squeeze to a single letter on both sides ("plzzz", "diieee", "killl" and
# "kill" all become "plz", "die", "kil"), so stretched words match without listing each length.
_REPEATS = re.compile(r"([^\W\d_])\1+")
# Squeezing turns "odd" into "od" (overdose); rename it first.
_PROTECTED = re.compile(r"(?<!\w)odd(?!\w)")
# Keep apostrophes and clause punctuation (clauses matter for past-tense guards); every other
# symbol, emoji or punctuation mark is a word break.
_KEEP_PUNCT = frozenset("'.,!?;")
_SPACES = re.compile(r"\s+")


def clean(text: str) -> str:
    """Drop what cannot be text (lone surrogates, control and format characters)."""
    if not isinstance(text, str):
        return ""
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat in ("Zl", "Zp"):
            out.append(" ")  # newlines and tabs still separate words
        elif cat in ("Cf", "Co", "Cn", "Cs"):
            continue  # zero-width joiners, private use, unassigned
        else:
            out.append(ch)
    return "".join(out)


def fold(text: str) -> str:
    """Lowercase, strip accents and unify look-alike characters; keeps punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_CHAR_MAP)
    # NFKD splits accents off (and Hangul into jamo); dropping the marks and recomposing with
    # NFC gives back whole Hangul syllables but unaccented Latin, Cyrillic and Arabic letters.
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    # Only a token that mixes letters with look-alike digits is leetspeak; "988" stays a number.
    if _HAS_LETTER.search(token) and _HAS_LEET.search(token):
        return token.translate(_LEET)
    return token


def _punct_to_space(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch in _KEEP_PUNCT or ch.isalnum() or ch.isspace() or ch == "_":
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)


def normalize(text: str) -> str:
    """The form safety patterns are matched against: folded, de-leeted, squeezed, one-spaced."""
    text = clean(text)
    text = _LAUGH_EMOJI.sub(" lol ", text)
    text = fold(text)
    text = _LEET_TOKEN.sub(_unleet, text)
    text = _punct_to_space(text)
    text = _PROTECTED.sub("weird", text)
    text = _REPEATS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def normalize_strict(text: str) -> str:
    """Lowercase and one-spaced but with accents kept, for words that accents tell apart."""
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", clean(text)).casefold())
    return _SPACES.sub(" ", _punct_to_space(text.translate(_CHAR_MAP))).strip()


def fold_pattern(source: str) -> str:
    """Bring a regex written by a person into the same form `normalize` gives text.

    Only literal characters are folded and squeezed; an escape such as ``\\S`` or ``\\d`` is
    copied unchanged so that casefolding cannot change what it means.
    """
    out: list[str] = []
    prev_letter = ""
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\" and i + 1 < len(source):
            out.append(source[i : i + 2])
            prev_letter = ""
            i += 2
            continue
        folded = fold(ch)
        for f in folded:
            if f.isalpha() and f == prev_letter:
                continue
            out.append(f)
            prev_letter = f if f.isalpha() else ""
        i += 1
    return "".join(out)


def strict_pattern(source: str) -> str:
    """Casefold a regex's literal characters but keep accents (see `normalize_strict`)."""
    out: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\" and i + 1 < len(source):
            out.append(source[i : i + 2])
            i += 2
            continue
        out.append(unicodedata.normalize("NFC", ch.casefold()).translate(_CHAR_MAP))
        i += 1
    return "".join(out)


def alternation(patterns: Iterable[str], boundary: Boundary) -> str:
    """One regex source matching any of `patterns`, fenced as the language needs."""
    body = "|".join(f"(?:{p})" for p in patterns)
    if not body:
        return ""
    if boundary == "word":
        return rf"(?<!\w)(?:{body})(?!\w)"
    return f"(?:{body})"


def combine(sources: Iterable[str]) -> re.Pattern[str] | None:
    """Compile several alternations into one regex, or None when there is nothing to match."""
    parts = [s for s in sources if s]
    if not parts:
        return None
    return re.compile("|".join(parts))


#: Where one clause ends and the next begins: punctuation, or "but" in the enabled languages
#: (en, es/tl "pero", fr "mais", pt "mas", ru "но", vi "nhưng", ht "men", tl "kaso").
CLAUSE_BREAK = re.compile(r"[.!?;,]| (?:but|pero|mais|mas|но|nhung|men|kaso) ")
