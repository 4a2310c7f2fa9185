"""Babel extractor for dialogue YAML: every translatable string, with its step as a comment."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml

#: (line number, function name, message, translator comments), as Babel expects.
Extracted = tuple[int, str | None, str, list[str]]


def extract_dialogue(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Yield the strings a dialogue flow sends: answers, `say` lines, questions, choice labels.

    Files that are not flows (program files, language tables) yield nothing, so the mapping
    can be a plain `dialogues/*.yaml` glob. Line numbers come from the YAML node tree.
    """
    encoding = str(options.get("encoding", "utf-8"))
    try:
        root = yaml.compose(fileobj.read().decode(encoding), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        # The dialogue checker reports broken YAML; extraction just has nothing to add.
        return
    if not isinstance(root, yaml.MappingNode):
        return
    answers = _get(root, "answers")
    if isinstance(answers, yaml.MappingNode):
        for key, value in answers.value:
            yield from _scalar(value, f"answers.{key.value}")
    steps = _get(root, "steps")
    if isinstance(steps, yaml.MappingNode):
        for key, step in steps.value:
            if isinstance(step, yaml.MappingNode):
                yield from _step(step, f"step: {key.value}")


def _step(step: yaml.MappingNode, comment: str) -> Iterator[Extracted]:
    say = _get(step, "say")
    lines = say.value if isinstance(say, yaml.SequenceNode) else [say] if say else []
    for line in lines:
        if isinstance(line, yaml.MappingNode):
            yield from _scalar(_get(line, "text"), comment)
        else:
            yield from _scalar(line, comment)
    yield from _scalar(_get(step, "ask"), comment)
    choices = _get(step, "choices")
    if isinstance(choices, yaml.SequenceNode):
        for choice in choices.value:
            if isinstance(choice, yaml.MappingNode):
                yield from _scalar(_get(choice, "label"), f"{comment} (choice label)")


def _get(node: yaml.MappingNode, name: str) -> yaml.Node | None:
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return value  # type: ignore[no-any-return]
    return None


def _scalar(node: yaml.Node | None, comment: str) -> Iterator[Extracted]:
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) and node.value:
        # Babel line numbers are 1-based; YAML marks are 0-based.
        yield node.start_mark.line + 1, None, node.value, [comment]
