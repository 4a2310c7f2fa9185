"""Sort a Telegram `Update` into the few things Doorway does with it (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Chat, ChatMember, Message, Update

#: Telegram allows deep-link payloads of up to 64 of these characters.
_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Ignore:
    """Nothing to do (edits, channel posts, bots, service messages, unknown update types)."""

    reason: str


@dataclass(frozen=True)
class GroupNotice:
    """Added to or written to in a group: the bot says once that it works in private only."""

    chat: str
    language: str | None


@dataclass(frozen=True)
class PrivateMessage:
    """A person (or a linked coach) wrote in a private chat."""

    chat: str
    provider_id: str
    text: str
    language: str | None
    media_count: int = 0
    command: str | None = None  # "start", "link", ... without the slash
    argument: str | None = None  # what follows the command

    @property
    def start_code(self) -> str | None:
        """The deep-link code of `/start CODE`, if it has Telegram's allowed shape."""
        if self.command != "start" or not self.argument:
            return None
        code = self.argument.strip()
        return code if _START_PAYLOAD.match(code) else None


@dataclass(frozen=True)
class ButtonPress:
    """A tap on one of our inline buttons."""

    chat: str
    provider_id: str
    query_id: str
    data: str | None
    language: str | None
    message_id: int | None
    message_text: str | None
    button_label: str | None


Action = Ignore | GroupNotice | PrivateMessage | ButtonPress


def _is_group(chat: Chat | None) -> bool:
    return chat is not None and chat.type in (Chat.GROUP, Chat.SUPERGROUP)


def _media_count(message: Message) -> int:
    kinds = (
        message.photo,
        message.voice,
        message.audio,
        message.video,
        message.video_note,
        message.sticker,
        message.document,
        message.animation,
        message.location,
        message.contact,
        message.venue,
        message.poll,
        message.dice,
    )
    return 1 if any(kinds) else 0


def classify(update: Update) -> Action:
    """What this update asks of us; anything unexpected is ignored, never an error."""
    if update.callback_query is not None:
        return _button(update)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        joined = member.new_chat_member.status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR)
        if _is_group(member.chat) and joined:
            language = member.from_user.language_code if member.from_user else None
            return GroupNotice(chat=str(member.chat.id), language=language)
        return Ignore("membership change")
    if update.message is None:
        # edited_message, channel_post, inline queries, polls... are not for us.
        return Ignore("not a new message")
    message = update.message
    sender = message.from_user
    if sender is not None and sender.is_bot:
        return Ignore("from a bot")
    language = sender.language_code if sender else None
    if _is_group(message.chat):
        # Only speak up when spoken to: a command or a reply (privacy mode sends just these).
        if message.text and (message.text.startswith("/") or message.reply_to_message):
            return GroupNotice(chat=str(message.chat.id), language=language)
        return Ignore("group chatter")
    if message.chat.type != Chat.PRIVATE:
        return Ignore("not a private chat")
    media = _media_count(message)
    text = message.text or message.caption or ""
    if not text and not media:
        return Ignore("service message")
    command, argument = None, None
    found = _COMMAND.match(message.text or "")
    if found:
        command, argument = found.group(1).lower(), found.group(2)
    return PrivateMessage(
        chat=str(message.chat.id),
        provider_id=f"u:{update.update_id}",
        text=text,
        language=language,
        media_count=media,
        command=command,
        argument=argument,
    )


def _button(update: Update) -> Action:
    query = update.callback_query
    assert query is not None
    message = query.message
    # An inaccessible (too old) message still tells us the chat.
    chat = message.chat if message is not None else None
    if chat is None or _is_group(chat) or chat.type != Chat.PRIVATE:
        return Ignore("button outside a private chat")
    text: str | None = None
    label: str | None = None
    if isinstance(message, Message):
        text = message.text
        markup = message.reply_markup
        for row in markup.inline_keyboard if markup else ():
            for button in row:
                if button.callback_data == query.data:
                    label = button.text
    return ButtonPress(
        chat=str(chat.id),
        provider_id=f"cb:{query.id}",
        query_id=query.id,
        data=query.data,
        language=query.from_user.language_code,
        message_id=message.message_id if message is not None else None,
        message_text=text,
        button_label=label,
    )
