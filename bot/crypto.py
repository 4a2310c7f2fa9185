"""Encryption at rest (AES-256-GCM, Fernet tokens still read) and the HMAC blind index used to
look addresses up.

Values are written as `gcm1:` tokens: AES-256-GCM under a key derived (HKDF-SHA256) from the
first configured key, with a random 96-bit nonce and a 4-byte id of the key, so a token names
the key that reads it. Fernet (AES-128-CBC with HMAC-SHA256, assembled in Python) took about
16 us to make or read a token, and every message makes about four and reads about two; a GCM
token takes about 1.5 us and is a third shorter. Tokens written before, Fernet's, are still
read with any configured key, and `doorway keys rotate` rewrites them as `gcm1:` tokens. A
random nonce keeps GCM safe for about 2**32 values per key: rotate to a new key long before
(about four values are encrypted a message over the intake, so 10,000 messages a day is some
15 million a year).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.config import ConfigError

#: What every token written now starts with (Fernet's start with "gAAAAA").
TOKEN_PREFIX = "gcm1:"  # noqa: S105 (a format marker, not a secret)
_NONCE_BYTES = 12
_KEY_ID_BYTES = 4
_HEADER_BYTES = _KEY_ID_BYTES + _NONCE_BYTES


@dataclass(frozen=True)
class _GcmKey:
    """One configured key as AES-256-GCM uses it, with the id its tokens carry."""

    key_id: bytes
    aead: AESGCM

    @classmethod
    def derive(cls, fernet_key: bytes) -> _GcmKey:
        """From a configured key (32 url-safe base64 bytes, as Fernet takes): a key of its own
        for GCM, so one secret is never used by two ciphers."""
        secret = base64.urlsafe_b64decode(fernet_key)
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"doorway at rest aes-256-gcm"
        ).derive(secret)
        key_id = hashlib.sha256(b"doorway key id:" + derived).digest()[:_KEY_ID_BYTES]
        return cls(key_id=key_id, aead=AESGCM(derived))

    def encrypt(self, plain: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        header = self.key_id + nonce
        sealed = self.aead.encrypt(nonce, plain, header)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(header + sealed).decode("ascii")


class KeysError(ConfigError):
    """The configured keys are missing or malformed."""


@dataclass(frozen=True)
class Vault:
    """Encrypts personal data with the first key, decrypts with any, and blinds lookups.

    Held by the database engine (see `bot.db`) so each engine carries its own keys and no
    global state is needed.
    """

    fernet: MultiFernet
    index_key: bytes
    primary: _GcmKey
    #: Every configured key by the id its GCM tokens carry (left out of the hash: a dict has
    #: none, and the keys it holds are the Fernet keys' own).
    gcm_keys: dict[bytes, _GcmKey] = field(hash=False)

    @classmethod
    def from_keys(cls, encryption_keys: str, index_key: str) -> Vault:
        keys = [k.strip() for k in encryption_keys.split(",") if k.strip()]
        if not keys:
            raise KeysError("DOORWAY_ENCRYPTION_KEYS: no key given")
        try:
            fernets = [Fernet(k.encode()) for k in keys]
        except ValueError:
            raise KeysError(
                "DOORWAY_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes"
            ) from None
        if len(index_key) < 32:
            raise KeysError("DOORWAY_INDEX_KEY: must be at least 32 characters")
        gcm = [_GcmKey.derive(k.encode()) for k in keys]
        return cls(
            fernet=MultiFernet(fernets),
            index_key=index_key.encode(),
            primary=gcm[0],
            gcm_keys={key.key_id: key for key in reversed(gcm)},
        )

    def encrypt(self, plain: str) -> str:
        """A `gcm1:` token under the first key."""
        return self.primary.encrypt(plain.encode("utf-8"))

    def decrypt(self, token: str) -> str:
        """The value of a `gcm1:` token or of a Fernet one written before, under any key."""
        try:
            if token.startswith(TOKEN_PREFIX):
                return self._open_gcm(token)[0].decode("utf-8")
            return self.fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, InvalidTag, ValueError):
            # ValueError: not base64, not ASCII, or not UTF-8 inside (a damaged value).
            raise KeysError("a stored value cannot be decrypted with the configured keys") from None

    def _open_gcm(self, token: str) -> tuple[bytes, bytes]:
        """The value of a `gcm1:` token and the id of the key that read it; InvalidTag when
        no configured key does, ValueError when it is not base64."""
        raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :])
        key_id, header = raw[:_KEY_ID_BYTES], raw[:_HEADER_BYTES]
        key = self.gcm_keys.get(key_id)
        if key is None or len(raw) < _HEADER_BYTES:
            raise InvalidTag()
        return key.aead.decrypt(
            raw[_KEY_ID_BYTES:_HEADER_BYTES], raw[_HEADER_BYTES:], header
        ), key_id

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the first key (for `doorway keys rotate`); KeysError when
        no configured key reads it."""
        return self.encrypt(self.decrypt(token))

    def is_current(self, token: str) -> bool:
        """Whether a token is already a `gcm1:` token under the first key (one it reads)."""
        if not token.startswith(TOKEN_PREFIX):
            return False
        try:
            _value, key_id = self._open_gcm(token)
        except (InvalidTag, ValueError):
            return False
        return key_id == self.primary.key_id

    def blind_index(self, kind: str, value: str) -> str:
        """A stable keyed hash so equal addresses can be found without storing them in clear."""
        digest = hmac.digest(self.index_key, f"{kind}:{value}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def generate_encryption_key() -> str:
    return Fernet.generate_key().decode("ascii")


def generate_index_key() -> str:
    return secrets.token_urlsafe(48)
