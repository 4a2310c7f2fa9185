"""Text normalisation shared by training and parsing: case, accents, elongation, SMS shorthand."""

from __future__ import annotations

import re
import unicodedata

#: Texts longer than this are cut before classification: SMS are short, and a cap keeps
#: parse time bounded (the crisis detector still sees the whole message).
MAX_CHARS = 1000

_WHITESPACE = re.compile(r"\s+")
# A letter written 3+ times in a row is elongation ("nooo", "pleaseee", "siii"):
# no English or Spanish word has a tripled letter, so collapsing to one is safe.
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
# "od'ing", "o.d.'d", "od'd" are how people text "overdosing" / "overdosed". The bare
# "odd" is a real word, so the past tense needs the apostrophe or "-ed".
_OD_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bo\.?d\.?'?(?:ing|in)\b"), "overdosing"),
    (re.compile(r"\bo\.?d\.?(?:'d|'ed|ed)\b"), "overdosed"),
    (re.compile(r"\bo\.d\.?(?=\s|$)|\bod\b"), "overdose"),
)
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]")

_COMMON_SHORTHAND: dict[str, str] = {
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "plis": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "tnx": "thanks",
    "ok": "ok",
    "okay": "ok",
    "okey": "ok",
    "oki": "ok",
    "kk": "ok",
}

_SHORTHAND: dict[str, dict[str, str]] = {
    "en": {
        "u": "you",
        "ur": "your",
        "r": "are",
        "y": "yes",
        "ya": "yeah",
        "yah": "yeah",
        "yea": "yeah",
        "ye": "yeah",
        "yeh": "yeah",
        "n": "no",
        "k": "ok",
        "hlp": "help",
        "halp": "help",
        "idk": "i dont know",
        "idc": "i dont care",
        "dunno": "dont know",
        "ty": "thank you",
        "tysm": "thank you so much",
        "tyvm": "thank you very much",
        "rn": "right now",
        "tmrw": "tomorrow",
        "tmr": "tomorrow",
        "2moro": "tomorrow",
        "2day": "today",
        "b4": "before",
        "bc": "because",
        "cuz": "because",
        "coz": "because",
        "wanna": "want to",
        "gonna": "going to",
        "gotta": "got to",
        "wat": "what",
        "wut": "what",
        "abt": "about",
        "ppl": "people",
        "msg": "message",
        "msgs": "messages",
        "txt": "text",
        "txts": "texts",
        "txting": "texting",
        "sum1": "someone",
        "some1": "someone",
        "ne1": "anyone",
        "any1": "anyone",
        "lmk": "let me know",
        "nvm": "never mind",
        "prob": "probably",
        "prolly": "probably",
        "info": "information",
        "convo": "conversation",
        "tho": "though",
    },
    "es": {
        "q": "que",
        "k": "que",
        "ke": "que",
        "xq": "porque",
        "pq": "porque",
        "porq": "porque",
        "x": "por",
        "tb": "tambien",
        "tmb": "tambien",
        "tmbn": "tambien",
        "xfa": "por favor",
        "porfa": "por favor",
        "porfis": "por favor",
        "pf": "por favor",
        "d": "de",
        "ntp": "no te preocupes",
        "ns": "no se",
        "nc": "no se",
        "nose": "no se",
        "grax": "gracias",
        "grcs": "gracias",
        "grs": "gracias",
        "bn": "bien",
        "toy": "estoy",
        "msj": "mensaje",
        "msjs": "mensajes",
        "cel": "celular",
        "aki": "aqui",
        "ola": "hola",
        "ps": "pues",
        "dnd": "donde",
        "info": "informacion",
        "sip": "si",
        "sep": "si",
    },
}


def fold(text: str) -> str:
    """Lower-case and strip accents so "Español", "espanol" and "ESPAÑOL" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def _clean_controls(text: str) -> str:
    """NUL and other control/format characters carry no meaning and break tokenising."""
    cleaned = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isspace() or category == "Cc":  # NUL, ESC, tabs: separators at most
            cleaned.append(" ")
        elif category not in {"Cf", "Cs", "Co", "Cn"}:  # zero-width, surrogates: dropped
            cleaned.append(ch)
    return "".join(cleaned)


def base_language(language: str) -> str:
    """'es-MX', 'es_MX', 'ES' -> 'es': shorthand tables are per base language."""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def normalize(text: str, language: str = "en") -> str:
    """The form both training and parsing see, so texting variants map to one string."""
    text = _clean_controls(text[:MAX_CHARS])
    text = fold(text)
    text = _APOSTROPHES.sub("'", text)
    for pattern, replacement in _OD_PATTERNS:
        text = pattern.sub(replacement, text)
    text = text.replace("'", "")
    text = _ELONGATION.sub(r"\1", text)
    table = _SHORTHAND.get(base_language(language), {})
    words = [table.get(word, _COMMON_SHORTHAND.get(word, word)) for word in _WHITESPACE.split(text)]
    return " ".join(word for word in words if word)


def tokens(normalized: str) -> list[str]:
    """Words, emoji and other symbols, "?" and "$": punctuation that carries meaning."""
    result: list[str] = []
    for token in _TOKEN.findall(normalized):
        keep = token[0].isalnum() or token in {"?", "$"}
        if keep or unicodedata.category(token[0]) in {"So", "Sc", "Sk"}:
            result.append(token)
    return result
