"""The vault: `gcm1:` tokens under the first key, earlier Fernet tokens still read, rotation,
and a clear error for any token no configured key reads."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.crypto import TOKEN_PREFIX, KeysError, Vault, generate_encryption_key
from bot.db import make_engine, session_factory, transaction, upgrade
from bot.models import ChannelIdentity, Contact, utcnow
from bot.rotation import rotate
from tests.conftest import TEST_INDEX_KEY

OLD_KEY = generate_encryption_key()
NEW_KEY = generate_encryption_key()
ROTATING = Vault.from_keys(f"{NEW_KEY},{OLD_KEY}", TEST_INDEX_KEY)
OLD_ONLY = Vault.from_keys(OLD_KEY, TEST_INDEX_KEY)
NEW_ONLY = Vault.from_keys(NEW_KEY, TEST_INDEX_KEY)


def fernet_token(key: str, plain: str) -> str:
    """A value as this project wrote it before `gcm1:` tokens."""
    return Fernet(key.encode()).encrypt(plain.encode()).decode()


def tampered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :]))
    raw[-1] ^= 1
    return TOKEN_PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode()


@given(st.text(max_size=300))
def test_any_text_comes_back_and_is_never_in_the_token(plain: str) -> None:
    token = ROTATING.encrypt(plain)
    assert token.startswith(TOKEN_PREFIX)
    assert ROTATING.decrypt(token) == plain
    assert NEW_ONLY.decrypt(token) == plain  # the first key wrote it
    if len(plain) >= 4:
        assert plain not in token


def test_the_same_value_twice_gives_two_tokens() -> None:
    """A random nonce each time: equal answers cannot be told apart in the database."""
    assert ROTATING.encrypt("+15555550147") != ROTATING.encrypt("+15555550147")


@pytest.mark.parametrize(
    ("written", "reader", "reads", "current"),
    [
        ("gcm under the first key", ROTATING, True, True),
        ("gcm under the old key", ROTATING, True, False),
        ("gcm under the old key", NEW_ONLY, False, False),
        ("fernet under the old key", ROTATING, True, False),
        ("fernet under the new key", ROTATING, True, False),
        ("fernet under the old key", NEW_ONLY, False, False),
        ("tampered gcm", ROTATING, False, False),
        ("truncated gcm", ROTATING, False, False),
        ("gcm prefix, not base64", ROTATING, False, False),
        ("not a token", ROTATING, False, False),
        ("not ascii", ROTATING, False, False),
        ("gcm prefix, not ascii", ROTATING, False, False),
    ],
)
def test_which_tokens_a_vault_reads_and_which_rotation_rewrites(
    written: str, reader: Vault, reads: bool, current: bool
) -> None:
    tokens = {
        "gcm under the first key": NEW_ONLY.encrypt("Robin"),
        "gcm under the old key": OLD_ONLY.encrypt("Robin"),
        "fernet under the old key": fernet_token(OLD_KEY, "Robin"),
        "fernet under the new key": fernet_token(NEW_KEY, "Robin"),
        "tampered gcm": tampered(NEW_ONLY.encrypt("Robin")),
        "truncated gcm": NEW_ONLY.encrypt("Robin")[:20],
        "gcm prefix, not base64": TOKEN_PREFIX + "%%%%",
        "not a token": "Robin",
        "not ascii": "gAAAAAé",
        "gcm prefix, not ascii": TOKEN_PREFIX + "é" * 40,
    }
    token = tokens[written]
    if reads:
        assert reader.decrypt(token) == "Robin"
        rotated = reader.rotate(token)
        assert reader.is_current(rotated) and NEW_ONLY.decrypt(rotated) == "Robin"
    else:
        with pytest.raises(KeysError, match="cannot be decrypted"):
            reader.decrypt(token)
        with pytest.raises(KeysError):
            reader.rotate(token)
    assert reader.is_current(token) is current


def test_rotation_rewrites_values_stored_as_fernet_tokens(tmp_path: Path) -> None:
    """A database written before `gcm1:` tokens: `keys rotate` leaves no Fernet token, and the
    app reads every value before and after."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}", ROTATING)
    upgrade(engine)
    now = utcnow()
    with transaction(session_factory(engine)) as session:
        session.add(
            ChannelIdentity(
                contact=Contact(created_at=now),
                channel="sms",
                address_index=ROTATING.blind_index("sms", "+15555550147"),
                address="+15555550147",
                created_at=now,
            )
        )
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE channel_identities SET address = :token"),
            {"token": fernet_token(OLD_KEY, "+15555550147")},
        )
    with session_factory(engine)() as session:
        assert session.scalars(select(ChannelIdentity.address)).all() == ["+15555550147"]
    report = rotate(engine, ROTATING)
    assert report.rotated == {"channel_identities.address": 1}
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT address FROM channel_identities")).scalar_one()
    assert stored.startswith(TOKEN_PREFIX)
    with session_factory(engine)() as session:
        assert session.scalars(select(ChannelIdentity.address)).all() == ["+15555550147"]
    engine.dispose()


def test_blind_index_is_stable_and_keyed() -> None:
    """Equal addresses are found by it; another index key gives another index; and it is the
    index stored before the vault's change (its value then, for a fixed key): a different
    one would lose every address already in a database."""
    fixed = Vault.from_keys(NEW_KEY, "a fixed index key for a known answer, 40 chars")
    assert fixed.blind_index("sms", "+15555550147") == "1y7CUlFHtvq2CineWXo7-nhSDnnPeMvxPs1muJVjob4"
    other = Vault.from_keys(NEW_KEY, "another index key, at least 32 characters long")
    assert ROTATING.blind_index("sms", "+15555550147") == NEW_ONLY.blind_index(
        "sms", "+15555550147"
    )
    assert ROTATING.blind_index("sms", "+15555550147") != other.blind_index("sms", "+15555550147")
    assert ROTATING.blind_index("sms", "+15555550147") != ROTATING.blind_index(
        "telegram", "+15555550147"
    )


def test_a_vault_can_be_a_cache_key() -> None:
    """As before GCM keys were held in it: `functools.cache` and sets take it."""
    assert {ROTATING: "rotating", NEW_ONLY: "new"}[ROTATING] == "rotating"
