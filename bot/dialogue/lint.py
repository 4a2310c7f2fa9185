"""Language and cost checks on every message: person-first words, reading level, SMS segments."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.dialogue.spec import DialogueSpec
from bot.nlu.normalize import fold

#: Fail only when the intake's average is above this; the target is grade 6 or below.
MAX_AVERAGE_GRADE = 8.0
TARGET_GRADE = 6.0
#: Grade formulas mean nothing on a button label ("Afternoon" scores 20): sentences only.
MIN_WORDS_FOR_GRADE = 4


@dataclass(frozen=True)
class LintProblem:
    """One message that breaks a rule, printed as `locale: msgid: message`."""

    language: str
    msgid: str
    message: str

    def __str__(self) -> str:
        return f"{self.language}: {self.msgid!r}: {self.message}"


# --- person-first language -------------------------------------------------------------------


@dataclass(frozen=True)
class StigmaTerms:
    """Terms to avoid per language and the phrases where they are fine, folded."""

    terms: Mapping[str, tuple[str, ...]]
    allow: Mapping[str, tuple[str, ...]]

    @classmethod
    def load(cls, path: Path) -> StigmaTerms:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))

        def folded(section: object) -> dict[str, tuple[str, ...]]:
            items = section.items() if isinstance(section, dict) else ()
            return {str(k): tuple(fold(str(t)) for t in v or ()) for k, v in items}

        return cls(terms=folded(raw.get("terms")), allow=folded(raw.get("allow")))


@functools.cache
def _pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")


def stigma_hits(text: str, languages: Iterable[str], terms: StigmaTerms) -> list[str]:
    """The listed terms `text` uses, checked against the lists of `languages`.

    Matching is on whole words with case and accents folded, after removing allowed phrases
    ("clean needles" is harm reduction, not a judgement of a person).
    """
    said = fold(text)
    for language in languages:
        for phrase in terms.allow.get(language, ()):
            said = _pattern(phrase).sub(" ", said)
    hits: dict[str, None] = {}
    for language in languages:
        for term in terms.terms.get(language, ()):
            if _pattern(term).search(said):
                hits.setdefault(term, None)
    return list(hits)


def lint_stigma(entries: Iterable[tuple[str, str, str]], terms: StigmaTerms) -> list[LintProblem]:
    """`entries` are (locale, msgid, text): a msgid is checked as English, a translation
    against its own language and English (loan words such as "junkie" travel)."""
    problems = []
    for language, msgid, text in entries:
        base = language.split("_")[0]
        for term in stigma_hits(text, dict.fromkeys([base, "en"]), terms):
            problems.append(LintProblem(language, msgid, f"stigmatizing term {term!r}"))
    return problems


# --- reading level ---------------------------------------------------------------------------


@functools.cache
def _hyphenator() -> object:
    import pyphen  # type: ignore[import-untyped]

    return pyphen.Pyphen(lang="en_US")


def _syllables(word: str) -> int:
    # textstat's own syllable count downloads NLTK's cmudict at run time; pyphen's bundled
    # dictionary (textstat's fallback) gives the same estimate offline.
    positions = _hyphenator().positions(word)  # type: ignore[attr-defined]
    return len(positions) + 1


def grade_level(text: str) -> float:
    """Flesch-Kincaid grade of an English text (word and sentence counts from textstat)."""
    import textstat  # type: ignore[import-untyped]

    clean = re.sub(r"\{[^}]*\}", "it", text)  # a placeholder reads as one short word
    words = re.findall(r"[A-Za-z']+", clean)
    if not words:
        return 0.0
    sentences = max(1, int(textstat.sentence_count(clean)))
    syllables = sum(_syllables(word.lower()) for word in words)
    return round(0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59, 1)


@dataclass(frozen=True)
class ReadingReport:
    grades: tuple[tuple[str, float], ...]

    @property
    def average(self) -> float:
        if not self.grades:
            return 0.0
        return round(sum(g for _, g in self.grades) / len(self.grades), 1)

    def hardest(self, count: int = 5) -> list[tuple[str, float]]:
        return sorted(self.grades, key=lambda pair: pair[1], reverse=True)[:count]


def reading_report(texts: Iterable[str]) -> ReadingReport:
    """Grades of the texts long enough to have one."""
    graded = [t for t in texts if len(t.split()) >= MIN_WORDS_FOR_GRADE]
    return ReadingReport(tuple((text, grade_level(text)) for text in graded))


# --- SMS cost --------------------------------------------------------------------------------


def count_segments(text: str) -> int:
    """SMS segments for one message (GSM-7 or UCS-2), from the SMS layer's counter."""
    from bot.sms.segments import count_segments as counter

    return counter(text)


def intake_path(spec: DialogueSpec) -> Iterator[str]:
    """Steps of the usual way through: each step's `next`, else its first choice's."""
    name: str | None = spec.start
    seen: set[str] = set()
    while name is not None and name not in seen:
        seen.add(name)
        yield name
        step = spec.steps[name]
        if step.end:
            return
        name = step.next or next((c.next for c in step.choices if c.next), None)


def path_messages(spec: DialogueSpec, translate: Mapping[str, str]) -> list[tuple[str, str]]:
    """(msgid, text as sent) along the path; a question carries its numbered choices."""
    sent = []
    for name in intake_path(spec):
        step = spec.steps[name]
        for line in step.say:
            sent.append((line.text, translate.get(line.text) or line.text))
        if step.ask:
            text = translate.get(step.ask) or step.ask
            labels = [translate.get(c.label) or c.label for c in step.choices]
            lines = [f"{i}. {label}" for i, label in enumerate(labels, start=1)]
            sent.append((step.ask, "\n".join([text, *lines])))
    return sent


# --- all together, for `doorway dialogues check` ---------------------------------------------


def _catalogs(locales: Path) -> dict[str, dict[str, str]]:
    """Each catalog's translations (msgid -> msgstr); a broken one is `i18n check`'s business."""
    from babel.messages.pofile import PoFileError, read_po

    found: dict[str, dict[str, str]] = {}
    for path in sorted(locales.glob("*/LC_MESSAGES/messages.po")):
        language = path.parent.parent.name
        try:
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        except (PoFileError, ValueError, OSError, UnicodeDecodeError):
            continue  # `doorway i18n check` names a catalog that does not parse
        found[language] = {
            str(m.id): str(m.string)
            for m in catalog
            if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
        }
    return found


def lint_all(
    specs: Mapping[str, DialogueSpec], msgids: Iterable[str], locales: Path, terms: StigmaTerms
) -> tuple[list[LintProblem], list[str]]:
    """Problems that fail the check, and report lines (reading level, SMS segments)."""
    msgids = list(msgids)
    catalogs = _catalogs(locales)
    entries = [("en", m, m) for m in msgids]
    entries += [(lang, m, text) for lang, cat in catalogs.items() for m, text in cat.items()]
    problems = lint_stigma(entries, terms)
    report: list[str] = []
    intake = specs.get("intake")
    if intake is not None:
        from bot.dialogue.loader import texts

        reading = reading_report(texts(intake))
        report.append(
            f"reading level (Flesch-Kincaid) of the intake: average grade {reading.average} "
            f"(target {TARGET_GRADE:g}, fails above {MAX_AVERAGE_GRADE:g}); hardest:"
        )
        report += [f"  {grade:5.1f}  {text}" for text, grade in reading.hardest()]
        if reading.average > MAX_AVERAGE_GRADE:
            problems.append(
                LintProblem("en", "intake", f"average reading grade {reading.average} too high")
            )
        for language, translate in [("en", {}), *catalogs.items()]:
            sent = path_messages(intake, translate)
            counts = [count_segments(text) for _, text in sent]
            worst = max(zip(counts, (m for m, _ in sent), strict=True), default=(0, ""))
            report.append(
                f"SMS segments on the intake path, {language}: {sum(counts)} in {len(sent)} "
                f"messages (largest {worst[0]}: {worst[1][:40]!r})"
            )
    return problems, report


def run_language_checks(specs: Mapping[str, DialogueSpec], folder: Path) -> list[LintProblem]:
    """What `doorway dialogues check` runs: prints the report, returns what fails."""
    from bot.dialogue.loader import texts
    from bot.paths import locales_dir

    msgids = dict.fromkeys(t for spec in specs.values() for t in texts(spec))
    template = locales_dir() / "messages.pot"
    if template.is_file():
        from bot.i18n_catalogs import msgids as catalog_msgids
        from bot.i18n_catalogs import read_template

        msgids.update(dict.fromkeys(sorted(catalog_msgids(read_template(template)))))
    terms = StigmaTerms.load(folder / "stigma_terms.yaml")
    problems, report = lint_all(specs, msgids, locales_dir(), terms)
    for line in report:
        print(line)
    return problems
