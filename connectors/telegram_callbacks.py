"""Inline-keyboard buttons: signed `callback_data` bound to a chat, a conversation and a step."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from connectors.base import OutboundMessage, step_token

#: Telegram's limit on callback_data, in bytes.
MAX_CALLBACK_BYTES = 64
#: The choice "number" of the Skip button; the dialogue understands SKIP in every language.
SKIP = "s"
SKIP_TEXT = "SKIP"
_MAC_BYTES = 8  # 64 bits: forging one in the 15-character budget is out of reach
_DATA = re.compile(r"^c:(\d{1,12}):([a-z0-9_~]{1,25}):(\d{1,2}|s):([A-Za-z0-9_-]{11})$")


@dataclass(frozen=True)
class ButtonTap:
    """What a verified button says: pick `choice` at `step` of `conversation_id`."""

    conversation_id: int
    step_token: str
    choice: str

    @property
    def text(self) -> str:
        """What the tap means as typed text: the choice number, or SKIP."""
        return SKIP_TEXT if self.choice == SKIP else self.choice


class CallbackSigner:
    """Signs and checks callback data with the app's secret; the chat is part of the MAC,
    so a button copied into another chat does not verify there."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("callback signing key is too short")
        self._key = hashlib.sha256(b"doorway telegram callbacks:" + key).digest()

    def _mac(self, chat: str, body: str) -> str:
        digest = hmac.new(self._key, f"{chat}|{body}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode("ascii").rstrip("=")

    def sign(self, chat: str, conversation_id: int, step: str, choice: str) -> str:
        body = f"c:{conversation_id}:{step_token(step)}:{choice}"
        data = f"{body}:{self._mac(chat, body)}"
        assert len(data.encode()) <= MAX_CALLBACK_BYTES, "callback data over Telegram's limit"
        return data

    def verify(self, chat: str, data: str | None) -> ButtonTap | None:
        """The tap, if the data is well-formed and signed for this chat; otherwise None."""
        if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
            return None
        match = _DATA.match(data)
        if match is None:
            return None
        conversation, step, choice, mac = match.groups()
        body = f"c:{conversation}:{step}:{choice}"
        if not hmac.compare_digest(mac, self._mac(chat, body)):
            return None
        return ButtonTap(conversation_id=int(conversation), step_token=step, choice=choice)


_COACH_DATA = re.compile(r"^k:([A-Z0-9 ]{1,16}):([A-Za-z0-9_-]{11})$")
#: The step of messages to responders whose choices are commands ("A K3F7", "1 K3F7").
COACH_STEP = "coach"


def sign_command(signer: CallbackSigner, chat: str, command: str) -> str:
    """A responder's button carries its command (accept, decline, an outcome), signed."""
    body = f"k:{command}"
    return f"{body}:{signer._mac(chat, body)}"


def verify_command(signer: CallbackSigner, chat: str, data: str | None) -> str | None:
    """The command of a responder's button, if signed for this chat; otherwise None."""
    match = _COACH_DATA.match(data or "")
    if match is None:
        return None
    command, mac = match.groups()
    if not hmac.compare_digest(mac, signer._mac(chat, f"k:{command}")):
        return None
    return command


def coach_keyboard(signer: CallbackSigner, message: OutboundMessage) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    c.label, callback_data=sign_command(signer, message.address, c.value)
                )
            ]
            for c in message.choices
            if _COACH_DATA.match(f"k:{c.value}:{'x' * 11}")
        ]
    )


def keyboard(signer: CallbackSigner, message: OutboundMessage) -> InlineKeyboardMarkup | None:
    """One button per choice, and Skip when the question may be skipped; None without a
    conversation step to bind the buttons to (the text then lists the choices)."""
    if message.step == COACH_STEP and message.choices:
        return coach_keyboard(signer, message)
    if message.conversation_id is None or message.step is None:
        return None
    if not message.choices and not message.skip_label:
        return None
    chat, conversation, step = message.address, message.conversation_id, message.step
    rows = [
        [
            InlineKeyboardButton(
                f"{c.number}. {c.label}",
                callback_data=signer.sign(chat, conversation, step, str(c.number)),
            )
        ]
        for c in message.choices
        if 1 <= c.number <= 99
    ]
    if message.skip_label:
        rows.append(
            [
                InlineKeyboardButton(
                    message.skip_label, callback_data=signer.sign(chat, conversation, step, SKIP)
                )
            ]
        )
    return InlineKeyboardMarkup(rows)
