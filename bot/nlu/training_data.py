"""Reading Rasa 3 NLU YAML files (intents, synonyms, regexes, lookups) into plain data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Rasa entity annotations: "[español](language)", "[spanish](language:es)",
# '[spanish]{"entity": "language", "value": "es"}'. Only the surface text is kept.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class NluData:
    """One language's training data: labelled examples and the helper tables."""

    examples: tuple[tuple[str, str], ...]
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lookups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def intents(self) -> tuple[str, ...]:
        """Intents in first-seen order."""
        return tuple(dict.fromkeys(intent for _, intent in self.examples))


def strip_annotations(text: str) -> str:
    """The text a person typed, without Rasa's entity markup."""
    return _ANNOTATION.sub(r"\1", text)


def _example_lines(block: Any) -> list[str]:
    """Rasa's `examples: |` block is a string of "- text" lines; also accept a list."""
    if isinstance(block, list):
        items = [item.get("text", "") if isinstance(item, dict) else str(item) for item in block]
        return [str(item).strip() for item in items if str(item).strip()]
    if not isinstance(block, str):
        return []
    lines = []
    for raw in block.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        elif line == "-":
            continue
        if line:
            lines.append(line)
    return lines


def parse_nlu(document: Any) -> NluData:
    """Turn a loaded Rasa NLU document into `NluData`; unknown entry kinds are ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
        raise ValueError("not a Rasa NLU file: expected a mapping with an 'nlu' list")
    examples: list[tuple[str, str]] = []
    synonyms: dict[str, str] = {}
    regexes: dict[str, list[str]] = {}
    lookups: dict[str, list[str]] = {}
    for entry in document["nlu"]:
        if not isinstance(entry, dict):
            continue
        lines = _example_lines(entry.get("examples"))
        if "intent" in entry:
            intent = str(entry["intent"])
            examples.extend((strip_annotations(line), intent) for line in lines)
        elif "synonym" in entry:
            for line in lines:
                synonyms[line] = str(entry["synonym"])
        elif "regex" in entry:
            regexes.setdefault(str(entry["regex"]), []).extend(lines)
        elif "lookup" in entry:
            lookups.setdefault(str(entry["lookup"]), []).extend(lines)
    return NluData(
        examples=tuple(examples),
        synonyms=synonyms,
        regexes={name: tuple(patterns) for name, patterns in regexes.items()},
        lookups={name: tuple(values) for name, values in lookups.items()},
    )


def load_nlu(path: Path) -> NluData:
    """Load one `dialogues/nlu/<lang>.yml` (or a held-out file in the same format)."""
    with path.open(encoding="utf-8") as handle:
        return parse_nlu(yaml.safe_load(handle))


def available_languages(data_dir: Path) -> list[str]:
    """Languages with a training file, sorted, e.g. ["en", "es"]."""
    if not data_dir.is_dir():
        return []
    return sorted(path.stem for path in data_dir.glob("*.yml") if path.is_file())
