"""`doorway dialogues check --segments`: every outbound text per locale, its encoding and SMS
segments; English texts over two segments are flagged (exit 1) because they cost and split."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.config import Program
from bot.dialogue.loader import load_all, texts
from bot.i18n import Catalogs, fill
from bot.paths import dialogues_dir, locales_dir
from bot.render import program_params
from bot.sms.gsm7 import replace_lookalikes
from bot.sms.segments import SegmentInfo, segment_info

#: Modules whose message constants are sent as they are (not part of a flow file).
CONSTANT_MODULES = ("bot.compliance", "bot.render", "bot.conversations", "bot.dialogue.runtime")
_CONSTANT_NAME = re.compile(r"^(MSG|HINT)_|^SKIP_LABEL$|^DEFAULT_")
#: Above this an English text is flagged: each extra segment is billed and may arrive apart.
MAX_ENGLISH_SEGMENTS = 2
PREVIEW = 60


@dataclass(frozen=True)
class TextSegments:
    locale: str
    source: str  # the flow id or the module the text comes from
    text: str  # as sent: translated, program facts filled in, look-alikes swapped
    info: SegmentInfo

    @property
    def flagged(self) -> bool:
        return self.locale == "en" and self.info.segments > MAX_ENGLISH_SEGMENTS


def outbound_msgids() -> Iterator[tuple[str, str]]:
    """(source, English msgid) for every flow string and every message constant."""
    specs, _problems = load_all(dialogues_dir())
    for dialogue_id, spec in sorted(specs.items()):
        for text in texts(spec):
            yield dialogue_id, text
    for name in CONSTANT_MODULES:
        module = importlib.import_module(name)
        for attribute, value in sorted(vars(module).items()):
            if _CONSTANT_NAME.match(attribute) and isinstance(value, str):
                yield name, value


def segment_table(program: Program, catalogs: Catalogs | None = None) -> list[TextSegments]:
    catalogs = catalogs or Catalogs(locales_dir(), program.default_language)
    msgids = list(dict.fromkeys(outbound_msgids()))
    rows = []
    for locale in catalogs.available():
        translator = catalogs.translator(locale)
        params = program_params(program, translator)
        for source, msgid in msgids:
            text = replace_lookalikes(fill(translator.gettext(msgid), params))
            rows.append(TextSegments(locale, source, text, segment_info(text)))
    return rows


def segment_check(program: Program, out: Callable[[str], None] = print) -> int:
    """Print the table; 1 when any English text is over two segments, else 0."""
    rows = segment_table(program)
    for row in rows:
        mark = "!" if row.flagged else " "
        preview = row.text.replace("\n", " / ")
        if len(preview) > PREVIEW:
            preview = preview[: PREVIEW - 1] + "…"
        out(
            f"{mark} {row.locale:<8} {row.info.encoding:<5} {row.info.segments:>2} seg "
            f"{row.info.units:>4}  {row.source:<22} {preview}"
        )
    flagged = [row for row in rows if row.flagged]
    locales = len({row.locale for row in rows})
    out(
        f"{len(rows)} texts in {locales} locales; "
        f"{len(flagged)} English texts over {MAX_ENGLISH_SEGMENTS} segments"
    )
    return 1 if flagged else 0
