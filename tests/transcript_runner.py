"""Reads transcript files and plays them against the pure runtime or through `receive()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent / "transcripts"


@dataclass
class Turn:
    send: str
    expect: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    first: str | None = None
    step: str | None = None
    status: str | None = None
    slots: dict[str, str] | None = None
    no_reply: bool = False


@dataclass
class Transcript:
    name: str
    path: Path
    turns: list[Turn]
    end: dict[str, Any]
    pure: bool = True


def load_transcripts() -> list[Transcript]:
    out = []
    for path in sorted(HERE.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.append(
            Transcript(
                name=raw["name"],
                path=path,
                turns=[Turn(**turn) for turn in raw["turns"]],
                end=raw.get("end") or {},
                pure=raw.get("pure", True),
            )
        )
    return out


def check_replies(turn: Turn, replies: list[str], where: str) -> None:
    joined = "\n".join(replies)
    if turn.no_reply:
        assert replies == [], f"{where}: expected silence, got {replies!r}"
        return
    assert replies, f"{where}: no reply to {turn.send!r}"
    for text in turn.expect:
        assert text in joined, f"{where}: {text!r} not in replies:\n{joined}"
    for text in turn.absent:
        assert text not in joined, f"{where}: {text!r} must not be in replies:\n{joined}"
    if turn.first is not None:
        assert replies[0].startswith(turn.first), f"{where}: first reply was {replies[0]!r}"
