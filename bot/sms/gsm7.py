"""The GSM 03.38 alphabet (3GPP TS 23.038) and the look-alikes that can be swapped into it."""

from __future__ import annotations

#: Characters of the default alphabet: one septet each.
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the extension table: an escape plus a code, two septets each.
EXTENSION = frozenset("\f^{}\\[~]|€")

#: Typographic look-alikes and what Twilio's Smart Encoding turns them into. Letters with
#: accents are never here: "á" is not "a" to a reader, so it stays and the message is UCS-2.
LOOKALIKES: dict[str, str] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark (the usual apostrophe from phones)
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u02bc": "'",  # modifier letter apostrophe
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2022": "-",  # bullet
    "\u2026": "...",  # horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2000": " ",
    "\u2001": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",  # narrow no-break space
    "\u205f": " ",  # medium mathematical space
    "\u3000": " ",  # ideographic space
    "\u200b": "",  # zero-width space
    "\u200c": "",  # zero-width non-joiner
    "\u200d": "",  # zero-width joiner
    "\u2060": "",  # word joiner
    "\ufeff": "",  # zero-width no-break space (BOM)
    "\u00ab": '"',  # left guillemet
    "\u00bb": '"',  # right guillemet
}

_TABLE = str.maketrans(LOOKALIKES)


def replace_lookalikes(text: str) -> str:
    """Swap typographic look-alikes for their GSM-7 equivalents; nothing else changes."""
    return text.translate(_TABLE)


def septets(char: str) -> int | None:
    """Septets one character takes in GSM-7, or None when it is not in the alphabet."""
    if char in BASIC:
        return 1
    if char in EXTENSION:
        return 2
    return None
