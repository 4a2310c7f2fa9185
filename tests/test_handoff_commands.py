"""How responders' replies are read, as a table."""

from __future__ import annotations

import pytest

from bot.handoff.commands import Command, parse_command

CASES = [
    # (what the responder sends, what it means)
    ("A", Command("accept")),
    ("a k3f7", Command("accept", code="K3F7")),
    (" ACCEPT  K3F7 ", Command("accept", code="K3F7")),
    ("N K3F7", Command("decline", code="K3F7")),
    ("can't now", Command("decline")),
    ("no", Command("decline")),
    ("/done", Command("done")),
    ("DONE K3F7", Command("done", code="K3F7")),
    ("/checkin", Command("checkin")),
    ("3", Command("outcome", number=3)),
    ("1 K3F7", Command("outcome", code="K3F7", number=1)),
    ("K3F7: hi, this is Maya", Command("relay", code="K3F7", text="hi, this is Maya")),
    (
        "Hi Sam, this is Maya from the program",
        Command("relay", text="Hi Sam, this is Maya from the program"),
    ),
    ("A K3F", Command("relay", text="A K3F")),  # not a valid code: said to the person as written
    ("6", Command("relay", text="6")),
    # Codes grow to 5 and 6 characters once 4-character ones are crowded.
    ("A K3F7Q", Command("accept", code="K3F7Q")),
    ("2 k3f7qz", Command("outcome", code="K3F7QZ", number=2)),
    ("HOPE you are ok", Command("relay", text="HOPE you are ok")),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse_command(text: str, expected: Command) -> None:
    assert parse_command(text) == expected
