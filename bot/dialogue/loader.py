"""Load dialogue YAML files and check them: schema, graph and placeholders."""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.dialogue.spec import DialogueSpec, Step

#: Placeholders the service fills from the program file; slots are allowed too.
PROGRAM_PLACEHOLDERS = frozenset(
    {
        "program",
        "hotline",
        "website",
        "emergency",
        "suicide_line",
        "suicide_text_spanish",
        "veterans_text",
        "treatment_helpline",
        "poison_help",
        "crisis_text_line",
        "good_samaritan",
    }
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dialogue file, printed as `file: step: message`."""

    file: str
    step: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.step}" if self.step else self.file
        return f"{where}: {self.message}"


class DialogueError(Exception):
    """Raised when the shipped dialogues do not pass their checks."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


#: Data files that live beside the flows in `dialogues/` but are not flows.
NOT_FLOWS = ("program", "languages", "stigma")


def flow_files(folder: Path) -> list[Path]:
    """Dialogue flows are the YAML files in the folder, except the known data files."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith(NOT_FLOWS))


def load_file(path: Path) -> tuple[DialogueSpec | None, list[Problem]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return None, [Problem(path.name, None, f"cannot read: {exc}")]
    try:
        spec = DialogueSpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            step = loc[1] if len(loc) > 1 and loc[0] == "steps" else None
            problems.append(Problem(path.name, step, f"{'.'.join(loc)}: {error['msg']}"))
        return None, problems
    return spec, check_graph(spec, path.name)


def load_all(folder: Path) -> tuple[dict[str, DialogueSpec], list[Problem]]:
    specs: dict[str, DialogueSpec] = {}
    problems: list[Problem] = []
    for path in flow_files(folder):
        spec, found = load_file(path)
        problems.extend(found)
        if spec is not None:
            if spec.id in specs:
                problems.append(Problem(path.name, None, f"dialogue id {spec.id!r} used twice"))
            specs[spec.id] = spec
    return specs, problems


def load_checked(folder: Path) -> dict[str, DialogueSpec]:
    """Load every flow or raise `DialogueError` listing every problem (start-up uses this)."""
    specs, problems = load_all(folder)
    if problems:
        raise DialogueError(problems)
    return specs


def _targets(step: Step) -> Iterator[str]:
    if step.next:
        yield step.next
    for choice in step.choices:
        if choice.next:
            yield choice.next


def check_graph(spec: DialogueSpec, file: str) -> list[Problem]:
    """Unknown names, unreachable steps, steps from which no path ends, unknown placeholders."""
    problems: list[Problem] = []
    names = set(spec.steps)
    if spec.start not in names:
        problems.append(Problem(file, None, f"start: unknown step {spec.start!r}"))
    for exit_name, target in spec.globals.items():
        if target not in names:
            problems.append(Problem(file, None, f"globals.{exit_name}: unknown step {target!r}"))
    for name, step in spec.steps.items():
        for target in _targets(step):
            if target not in names:
                problems.append(Problem(file, name, f"goes to unknown step {target!r}"))
    if problems:
        return problems

    roots = {spec.start, *spec.globals.values()}
    reachable = _closure(roots, lambda n: _targets(spec.steps[n]))
    for name in sorted(names - reachable):
        problems.append(Problem(file, name, "cannot be reached from the start or a global exit"))

    ends = {n for n, s in spec.steps.items() if s.end}
    incoming: dict[str, set[str]] = {n: set() for n in names}
    for name, step in spec.steps.items():
        for target in _targets(step):
            incoming[target].add(name)
    can_end = _closure(ends, lambda n: iter(incoming[n]))
    for name in sorted(names - can_end):
        problems.append(Problem(file, name, "no path from here reaches an end"))

    slots = {s.slot for s in spec.steps.values() if s.slot}
    slots.update(k for s in spec.steps.values() for c in s.choices for k in c.set)
    allowed = PROGRAM_PLACEHOLDERS | slots
    for where, text in _texts(spec):
        for field in placeholders(text):
            if field not in allowed:
                problems.append(
                    Problem(file, where, f"unknown placeholder {{{field}}} in {text!r}")
                )
    for name, step in spec.steps.items():
        for line in step.say:
            for slot in (line.when, line.unless):
                if slot and slot not in slots:
                    problems.append(Problem(file, name, f"condition on unknown slot {slot!r}"))
    return problems


def _closure(roots: Iterable[str], neighbours: Callable[[str], Iterator[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(neighbours(name))
    return seen


def placeholders(text: str) -> set[str]:
    """The `{field}` names in a message."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def _texts(spec: DialogueSpec) -> Iterator[tuple[str | None, str]]:
    """Every translatable string with the step it belongs to."""
    for intent, text in spec.answers.items():
        yield f"answers.{intent}", text
    for name, step in spec.steps.items():
        for line in step.say:
            yield name, line.text
        if step.ask:
            yield name, step.ask
        for choice in step.choices:
            yield name, choice.label


def texts(spec: DialogueSpec) -> list[str]:
    """Every translatable string of a flow, in order, without repeats."""
    seen: dict[str, None] = {}
    for _, text in _texts(spec):
        seen.setdefault(text, None)
    return list(seen)
