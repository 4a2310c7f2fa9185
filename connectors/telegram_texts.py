"""What the Telegram channel itself says (English msgids, translated where sent)."""

from __future__ import annotations

from bot.i18n import N_

MSG_BUTTON_EXPIRED = N_("That button has expired. Please reply with your answer.")
MSG_PRIVATE_ONLY = N_(
    "Hi! I can only talk in a private chat, to keep what you share private. "
    "Please open a chat with me directly."
)
MSG_LINKED = N_(
    "Your Telegram is now linked to your coach account. Referral alerts will come here."
)
MSG_LINK_FAILED = N_(
    "That link code did not work. It may have expired or been used already. "
    "Ask your program administrator for a new one."
)
MSG_COACH_HELP = N_(
    "This chat is linked to your coach account. Referral alerts will appear here with buttons "
    "to accept them. To link another account, send /link and a new code."
)
