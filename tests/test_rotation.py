"""`keys rotate`: data under key A, keys "B,A", rotate, then readable with B alone; resumable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from bot.crypto import KeysError, Vault, generate_encryption_key
from bot.db import make_engine, session_factory
from bot.models import ChannelIdentity, Conversation, Handoff, Message
from bot.rotation import encrypted_tables, rotate
from bot.services import Services
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY
from tests.privacy_support import NAME, PHONE, PHRASE, full_conversation

NEW_KEY = generate_encryption_key()


@pytest.fixture
def engines(services: Services) -> Iterator[dict[str, tuple[Engine, Vault]]]:
    """The same database seen with "B,A" (rotation time) and with "B" alone (afterwards)."""
    url = services.engine.url.render_as_string(hide_password=False)
    built = {}
    for label, keys in (("both", f"{NEW_KEY},{TEST_ENCRYPTION_KEY}"), ("new", NEW_KEY)):
        vault = Vault.from_keys(keys, TEST_INDEX_KEY)
        built[label] = (make_engine(url, vault, pool_size=1), vault)
    yield built
    for engine, _vault in built.values():
        engine.dispose()


def read_everything(engine: Engine) -> dict[str, object]:
    """Decrypt every personal value through the ORM (raises if a key is missing)."""
    with session_factory(engine)() as session:
        return {
            "addresses": [i.address for i in session.scalars(select(ChannelIdentity))],
            "bodies": [m.body for m in session.scalars(select(Message).order_by(Message.id))],
            "slots": [json.loads(c.slots or "{}") for c in session.scalars(select(Conversation))],
            "names": [h.display_name for h in session.scalars(select(Handoff))],
        }


def test_every_encrypted_column_is_found_from_the_models() -> None:
    found = {(t.name, c) for t in encrypted_tables() for c in t.columns}
    assert {
        ("channel_identities", "address"),
        ("messages", "body"),
        ("conversations", "slots"),
        ("handoffs", "display_name"),
        ("contacts", "display_name"),
        ("responders", "sms_phone"),
        ("responders", "telegram_chat"),
    } <= found


def test_rotate_then_the_new_key_alone_reads_everything(
    services: Services, engines: dict[str, tuple[Engine, Vault]]
) -> None:
    full_conversation(services)
    before = read_everything(services.engine)
    assert before["addresses"] == [PHONE] and before["names"] == [NAME]
    assert PHRASE in before["bodies"]  # type: ignore[operator]
    new_engine, _ = engines["new"]
    with pytest.raises(KeysError):
        read_everything(new_engine)

    engine, vault = engines["both"]
    report = rotate(engine, vault, batch_size=7)
    assert report.complete
    assert report.rotated["channel_identities.address"] == 1
    assert read_everything(new_engine) == before

    again = rotate(engine, vault)
    assert again.total_rotated == 0
    assert sum(again.current.values()) == report.total_rotated


def test_an_interrupted_rotation_resumes(
    services: Services, engines: dict[str, tuple[Engine, Vault]]
) -> None:
    full_conversation(services)
    before = read_everything(services.engine)
    engine, vault = engines["both"]

    first = rotate(engine, vault, batch_size=2, max_batches=3)
    assert not first.complete
    assert first.batches == 3 and first.total_rotated > 0
    with pytest.raises(KeysError):
        read_everything(engines["new"][0])  # not finished: some values still need key A

    rest = rotate(engine, vault, batch_size=2)
    assert rest.complete
    assert sum(rest.current.values()) == first.total_rotated
    assert read_everything(engines["new"][0]) == before


def test_a_value_no_key_can_read_stops_rotation_with_a_clear_error(
    services: Services, engines: dict[str, tuple[Engine, Vault]]
) -> None:
    full_conversation(services)
    only_new = Vault.from_keys(NEW_KEY, TEST_INDEX_KEY)
    with pytest.raises(KeysError, match="keep every old key after it"):
        rotate(engines["new"][0], only_new)
