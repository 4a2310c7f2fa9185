"""What follow-up texts say: English msgids, translated per person through the catalog."""

from __future__ import annotations

from bot.i18n import N_

# The first text introduces us and carries the opt-in elements (program, frequency, rates,
# STOP and HELP). It never says why we met: a text can be read by someone else.
INTRO = N_(
    "Hi, this is {program}. Our team met you recently and we want to check in, because you "
    "matter. Reply YES any time to talk with a peer recovery coach. We will text now and then "
    "over the next few weeks. {frequency}. Msg&data rates may apply. Reply STOP to cancel, "
    "HELP for help."
)
INTRO_NAMED = N_(
    "Hi {name}, this is {program}. Our team met you recently and we want to check in, because "
    "you matter. Reply YES any time to talk with a peer recovery coach. We will text now and "
    "then over the next few weeks. {frequency}. Msg&data rates may apply. Reply STOP to "
    "cancel, HELP for help."
)
# Check-ins between the first and the last: hope first, one easy step, the way out.
CHECKINS = (
    N_(
        "Hi from {program}. We're thinking of you today. There is no wrong time to reach out. "
        "Reply YES to talk with a peer coach. Reply STOP to cancel."
    ),
    N_(
        "Hi, it's {program}. We hope you're doing okay. Many people find it helps to talk with "
        "someone who has been there. Reply YES to talk with a peer coach. Reply STOP to cancel."
    ),
    N_(
        "Hi from {program}, checking in. Recovery looks different for everyone, and support is "
        "free, with no judgment. Reply YES to talk with a peer coach. Reply STOP to cancel."
    ),
    N_(
        "Hi, it's {program}. We're still here for you. Peer support, counseling and medication "
        "all help, and you choose what fits. Reply YES to talk with a peer coach. Reply STOP "
        "to cancel."
    ),
)
LAST = N_(
    "Hi from {program}. This is our last planned check-in. You can text us any time, day or "
    "night. Reply YES to talk with a peer coach. Reply STOP to cancel."
)


def step_text(index: int, count: int, *, named: bool) -> str:
    """The msgid for step `index` of `count`: the introduction, check-ins, then the last."""
    if index == 0:
        return INTRO_NAMED if named else INTRO
    if index == count - 1:
        return LAST
    return CHECKINS[(index - 1) % len(CHECKINS)]
