"""Encryption at rest (MultiFernet) and the HMAC blind index used to look addresses up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import ConfigError


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
    primary: Fernet

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
        return cls(fernet=MultiFernet(fernets), index_key=index_key.encode(), primary=fernets[0])

    def encrypt(self, plain: str) -> str:
        return self.fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise KeysError("a stored value cannot be decrypted with the configured keys") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the first key (for `doorway keys rotate`)."""
        return self.fernet.rotate(token.encode("ascii")).decode("ascii")

    def is_current(self, token: str) -> bool:
        """Whether a token is already encrypted under the first key."""
        try:
            self.primary.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def blind_index(self, kind: str, value: str) -> str:
        """A stable keyed hash so equal addresses can be found without storing them in clear."""
        digest = hmac.new(self.index_key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def generate_encryption_key() -> str:
    return Fernet.generate_key().decode("ascii")


def generate_index_key() -> str:
    return secrets.token_urlsafe(48)
