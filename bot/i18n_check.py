"""Check translated catalogs: complete, not fuzzy, same placeholders, same keywords."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po

from bot.i18n import DOMAIN
from bot.i18n_catalogs import SOURCE_LANGUAGE, catalog_languages, catalog_path

#: Words the runtime accepts in English and in translation: a message that mentions one must
#: use the same word the catalog gives for it, or people would be told to type a dead word.
TRANSLATED_KEYWORDS = ("SKIP", "PERSON", "RESTART", "WITHDRAW")
#: Carrier keywords: they work in every language, so they stay literal in every translation.
LITERAL_KEYWORDS = ("STOP", "START", "HELP")


@dataclass(frozen=True)
class CatalogProblem:
    """One problem in one catalog, printed as `locale: msgid: message`."""

    language: str
    msgid: str | None
    message: str

    def __str__(self) -> str:
        if self.msgid is None:
            return f"{self.language}: {self.message}"
        return f"{self.language}: {self.msgid!r}: {self.message}"


@dataclass(frozen=True)
class CatalogReport:
    language: str
    translated: int
    total: int
    problems: tuple[CatalogProblem, ...]


def _fields(text: str) -> set[str]:
    """`{placeholder}` names; raises ValueError on a broken brace."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _mentions(word: str, text: str) -> bool:
    # Upper-case whole words only: "Skip" (a button label) is not the keyword SKIP.
    return re.search(rf"(?<![A-Za-z]){word}(?![A-Za-z])", text) is not None


def _strings(message: Message) -> list[str]:
    if isinstance(message.string, (list, tuple)):
        return [s for s in message.string]
    return [message.string or ""]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def check_message(
    language: str, message: Message, keyword_translations: dict[str, str]
) -> list[CatalogProblem]:
    """Every problem with one translated entry (`keyword_translations` maps SKIP -> its word)."""
    msgid = _ids(message)[0]

    def problem(text: str) -> CatalogProblem:
        return CatalogProblem(language, msgid, text)

    strings = _strings(message)
    if not all(s.strip() for s in strings):
        return [problem("missing translation")]
    problems = []
    if message.fuzzy:
        problems.append(problem("fuzzy (review it, then remove the fuzzy flag)"))
    expected = set().union(*(_fields(i) for i in _ids(message)))
    for translated in strings:
        try:
            found = _fields(translated)
        except ValueError:
            problems.append(problem(f"broken placeholder in {translated!r}"))
            continue
        for field in sorted(expected - found):
            problems.append(problem(f"missing placeholder {{{field}}}"))
        for field in sorted(found - expected):
            problems.append(problem(f"unknown placeholder {{{field}}}"))
        for word in TRANSLATED_KEYWORDS:
            if msgid != word and _mentions(word, msgid):
                local = keyword_translations.get(word, word)
                if local not in translated:
                    problems.append(problem(f"keyword {word} must appear as {local!r}"))
        for word in LITERAL_KEYWORDS:
            if _mentions(word, msgid) and not _mentions(word, translated):
                problems.append(problem(f"carrier keyword {word} must stay literal"))
    return problems


def check_catalog(language: str, path: Path, template: Catalog | None) -> CatalogReport:
    """Parse one catalog and check each entry; entries missing from it count as untranslated."""
    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN, abort_invalid=True)
    except (PoFileError, OSError, ValueError, UnicodeDecodeError) as exc:
        problem = CatalogProblem(language, None, f"{path.name} does not parse: {exc}")
        return CatalogReport(language, 0, 0, (problem,))
    keyword_translations = {
        word: str(catalog[word].string)
        for word in TRANSLATED_KEYWORDS
        if catalog.get(word) is not None and catalog[word].string
    }
    problems: list[CatalogProblem] = []
    wanted = [m.id for m in template if m.id] if template is not None else []
    for msgid in wanted:
        if catalog.get(msgid) is None:
            problems.append(CatalogProblem(language, _ids_of(msgid), "missing from the catalog"))
    translated = 0
    total = 0
    for message in catalog:
        if not message.id:
            continue
        total += 1
        found = check_message(language, message, keyword_translations)
        problems.extend(found)
        if not found:
            translated += 1
    return CatalogReport(language, translated, max(total, len(wanted)), tuple(problems))


def _ids_of(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def check_all(
    folder: Path, template: Catalog | None, languages: list[str] | None = None
) -> list[CatalogReport]:
    """Check the named languages (default: every catalog on disk); the source is complete."""
    chosen = languages if languages is not None else catalog_languages(folder)
    reports = []
    for language in chosen:
        if language == SOURCE_LANGUAGE:
            continue
        path = catalog_path(folder, language)
        if not path.is_file():
            problem = CatalogProblem(language, None, f"no catalog at {path}")
            reports.append(CatalogReport(language, 0, 0, (problem,)))
            continue
        reports.append(check_catalog(language, path, template))
    return reports
