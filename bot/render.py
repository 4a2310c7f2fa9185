"""Turn the runtime's `Say` effects into translated outbound messages for one person."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import Program
from bot.dialogue.effects import Say
from bot.i18n import N_, Translator, fill
from connectors.base import OutboundChoice, OutboundMessage

HINT_NUMBER = N_("Reply with a number.")
HINT_NUMBER_OR_SKIP = N_("Reply with a number, or SKIP to skip.")
HINT_TEXT_SKIP = N_("You can reply SKIP to skip this question.")
SKIP_LABEL = N_("Skip")
#: The program file's default message frequency, marked so catalogs translate it.
DEFAULT_FREQUENCY = N_("Msg frequency varies")
DEFAULT_GOOD_SAMARITAN = N_(
    "In many states, the law protects people who call 911 to help during an overdose."
)


def program_params(program: Program, translator: Translator) -> dict[str, str]:
    """The program's own facts that messages may mention, in the person's language."""
    crisis = program.crisis
    good_samaritan = crisis.good_samaritan.get(translator.language) or translator.gettext(
        DEFAULT_GOOD_SAMARITAN
    )
    return {
        "program": program.short_name,
        "hotline": program.hotline,
        "website": program.website or program.hotline,
        "emergency": crisis.emergency,
        "suicide_line": crisis.suicide_line,
        "suicide_text_spanish": crisis.suicide_text_spanish,
        "veterans_text": crisis.veterans_text,
        "treatment_helpline": crisis.treatment_helpline,
        "poison_help": crisis.poison_help,
        "crisis_text_line": crisis.crisis_text_line,
        "good_samaritan": good_samaritan,
        "frequency": translator.gettext(program.message_frequency),
    }


def hint_for(say: Say, translator: Translator) -> str | None:
    if say.choices:
        return translator.gettext(HINT_NUMBER_OR_SKIP if say.skippable else HINT_NUMBER)
    if say.skippable:
        return translator.gettext(HINT_TEXT_SKIP)
    return None


def render(
    say: Say,
    *,
    translator: Translator,
    program_values: Mapping[str, str],
    channel: str,
    address: str,
) -> OutboundMessage:
    """Translate and fill one `Say`; the person's own answers fill in after program facts."""
    params = {**program_values, **say.params}
    return OutboundMessage(
        channel=channel,
        address=address,
        text=fill(translator.gettext(say.text), params),
        choices=tuple(
            OutboundChoice(c.number, c.value, translator.gettext(c.label)) for c in say.choices
        ),
        hint=hint_for(say, translator),
        skip_label=translator.gettext(SKIP_LABEL) if say.skippable else None,
        step=say.step,
        right_to_left=translator.right_to_left,
    )
