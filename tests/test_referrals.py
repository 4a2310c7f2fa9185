"""Referral codes: the service, what a code does to a new conversation, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.conversations import receive
from bot.db import transaction
from bot.models import Conversation
from bot.referrals import ReferralError, add_code, disable_code, list_codes, resolve
from bot.services import Services
from connectors.base import InboundMessage
from tests.test_cli import run


def add(services: Services, code: str, pathway: str = "naloxone_plus", **kw: str) -> None:
    with transaction(services.sessions) as session:
        add_code(session, code, pathway=pathway, now=services.clock(), **kw)


def test_codes_are_case_insensitive_and_can_be_disabled(services: Services) -> None:
    add(services, "qrt-north", team="QRT North", description="cards in naloxone kits")
    with services.sessions() as session:
        found = resolve(session, "QRT-north")
        assert found is not None and (found.code, found.team) == ("QRT-NORTH", "QRT North")
    with transaction(services.sessions) as session:
        disable_code(session, "qrt-NORTH")
    with services.sessions() as session:
        assert resolve(session, "QRT-NORTH") is None
        assert [c.active for c in list_codes(session)] == [False]
    # a disabled code can be brought back with new details
    add(services, "QRT-NORTH", pathway="active_outreach")
    with services.sessions() as session:
        found = resolve(session, "qrt-north")
        assert found is not None and found.pathway == "active_outreach"


BAD = [
    # (label, code, pathway, error)
    ("empty code", "", "naloxone_plus", "use 1-40"),
    ("spaces", "QRT NORTH", "naloxone_plus", "use 1-40"),
    ("too long", "A" * 41, "naloxone_plus", "use 1-40"),
    ("unknown pathway", "QRT", "arrest", "choose one of"),
]


@pytest.mark.parametrize(
    ("code", "pathway", "error"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_codes_are_refused(
    sqlite_services: Services, code: str, pathway: str, error: str
) -> None:
    with pytest.raises(ReferralError, match=error):
        add(sqlite_services, code, pathway)


def test_an_active_code_cannot_be_added_twice(sqlite_services: Services) -> None:
    add(sqlite_services, "QRT")
    with pytest.raises(ReferralError, match="already exists"):
        add(sqlite_services, "qrt")


def first_conversation(services: Services, referral: str | None, address: str) -> Conversation:
    inbound = InboundMessage(
        channel="web",
        address=address,
        text="hi",
        provider_id=f"p-{address}",
        received_at=services.clock(),
        referral_code=referral,
    )
    result = receive(services, inbound, reply_inline=True)
    with services.sessions() as session:
        conversation = session.get(Conversation, result.conversation_id)
        assert conversation is not None
        return conversation


def test_a_code_sets_pathway_and_team_only_when_active(services: Services) -> None:
    add(services, "NPLUS-7", team="Naloxone Plus 7")
    add(services, "OLD")
    with transaction(services.sessions) as session:
        disable_code(session, "OLD")
    rows = {
        # referral code as brought -> (pathway, code stored, team)
        "nplus-7": ("naloxone_plus", "NPLUS-7", "Naloxone Plus 7"),
        "OLD": ("self_referral", None, None),  # disabled: a normal conversation
        "NOPE": ("self_referral", None, None),  # unknown
        "bad code!": ("self_referral", None, None),  # malformed
    }
    for i, (code, expected) in enumerate(rows.items()):
        conversation = first_conversation(services, code, f"person-{i}")
        assert (
            conversation.pathway,
            conversation.referral_code,
            conversation.referral_team,
        ) == expected, code
    plain = first_conversation(services, None, "person-plain")
    assert plain.pathway == "self_referral"


def test_cli_add_list_disable(tmp_path: Path) -> None:
    added = run(
        ["referral-codes", "add", "qrt-north", "--pathway", "naloxone_plus", "--team", "QRT N"],
        tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert "https://t.me/<your bot>?start=QRT-NORTH" in added.stdout
    again = run(["referral-codes", "add", "QRT-NORTH", "--pathway", "naloxone_plus"], tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = run(["referral-codes", "list", "--json"], tmp_path)
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [
        {
            "code": "QRT-NORTH",
            "pathway": "naloxone_plus",
            "team": "QRT N",
            "description": None,
            "active": True,
        }
    ]
    disabled = run(["referral-codes", "disable", "qrt-north"], tmp_path)
    assert disabled.returncode == 0, disabled.stderr
    listed = run(["referral-codes", "list"], tmp_path)
    assert "disabled" in listed.stdout
    missing = run(["referral-codes", "disable", "NOPE"], tmp_path)
    assert missing.returncode == 1 and "no such code" in missing.stderr


def test_cli_link_code(tmp_path: Path) -> None:
    unknown = run(["responders", "link-code", "Nobody"], tmp_path)
    assert unknown.returncode == 1 and "no such responder" in unknown.stderr
    added = run(["responders", "add", "Maya Coach", "--languages", "en,es"], tmp_path)
    assert added.returncode == 0, added.stderr
    printed = run(["responders", "link-code", "Maya Coach"], tmp_path)
    assert printed.returncode == 0, printed.stderr
    code = re.search(r"/link ([A-Z2-9]{5}-[A-Z2-9]{5})", printed.stdout)
    assert code is not None, printed.stdout
    assert "15 minutes" in printed.stdout
