"""What the handoff says to people and to responders (English msgids, translated at send)."""

from __future__ import annotations

from bot.i18n import N_

# To responders.
ALERT = N_(
    "New request {code} ({urgency}): {name}, {language}. Wants: {help}. Contact: {contact}. "
    "Via: {pathway}."
)
ALERT_SMS_HINT = N_("Reply A {code} to accept or N {code} if you can't.")
ALERT_ESCALATED = N_("Nobody has taken request {code} yet. Can you?")
ACCEPT_LABEL = N_("Accept")
DECLINE_LABEL = N_("Can't now")
ACCEPTED_BY_YOU = N_(
    "You have request {code}. Write here to message the person; they will not see your number. "
    "Send DONE when you are finished."
)
ALREADY_TAKEN = N_("Request {code} has already been taken by someone else. Thank you.")
DECLINED_OK = N_("Okay, we will offer {code} to someone else.")
NO_SUCH_OFFER = N_("There is no open offer {code} for you.")
WHICH_CODE = N_("You have more than one open request. Start with its code, e.g. {code} hello")
NO_OPEN = N_("You have no open requests. New ones will come here.")
OUTCOME_QUESTION = N_("How did request {code} go?")
OUTCOME_SAVED = N_("Thank you. Request {code} is closed.")
PERSON_SAID = N_("{code} {name}: {text}")
PERSON_OPTED_OUT = N_("The person in {code} asked us to stop messaging them. The chat is closed.")
PERSON_IN_CRISIS = N_(
    "URGENT {code}: the person may be in crisis ({kind}). They were given {emergency} "
    "and crisis lines."
)
CONSENT_WITHDRAWN = N_(
    "The person in {code} withdrew consent: do not share or record their details from now on."
)
SOMEONE = N_("someone")

OUTCOMES = (
    ("connected", N_("We connected")),
    ("no_answer", N_("No answer")),
    ("referred", N_("Referred to a service")),
    ("declined", N_("The person declined")),
    ("other", N_("Other")),
)

# To the person.
COACH_COMING = N_(
    "Good news: {coach}, a {role} from {program}, will reach out to you {when}. You can reply "
    "here to talk with them."
)
WHEN_SOON = N_("soon")
WHEN_MORNING = N_("in the morning")
WHEN_AFTERNOON = N_("in the afternoon")
WHEN_EVENING = N_("in the evening")
NOBODY_YET = N_(
    "We are still finding someone for you. If you need help now, call {hotline}. In an "
    "emergency, call {emergency}."
)
NOBODY_ON_CALL = N_(
    "Nobody is on call right now. Someone will reach out {when}. If you need help now, call "
    "{hotline}. In an emergency, call {emergency}."
)
CHECK_IN = N_("Hi, just checking in. {coach} is here when you're ready. You can reply any time.")
CONVERSATION_CLOSED = N_("Thank you for talking with us. You can text us any time, day or night.")

ROLES = {
    "peer_recovery_coach": N_("peer recovery coach"),
    "clinician": N_("clinician"),
    "on_call_provider": N_("on-call provider"),
    "supervisor": N_("supervisor"),
}
URGENCIES = {
    "crisis": N_("crisis"),
    "urgent": N_("urgent"),
    "today": N_("today"),
    "scheduled": N_("scheduled"),
    "routine": N_("routine"),
}
HELP_KINDS = {
    "talk_today": N_("talk today"),
    "schedule": N_("set up a time"),
    "info": N_("information"),
    "just_talk": N_("just talk"),
    "moud": N_("medication for opioid use disorder"),
    "treatment": N_("treatment options"),
    "harm_reduction": N_("harm reduction"),
    "housing": N_("housing"),
}
CONTACT_METHODS = {
    "message": N_("message them"),
    "call": N_("call them"),
    "either": N_("call or message"),
}
CONTACT_TIMES = {
    "asap": N_("as soon as possible"),
    "morning": N_("morning"),
    "afternoon": N_("afternoon"),
    "evening": N_("evening"),
}
PATHWAYS = {
    "self_referral": N_("self-referral"),
    "active_outreach": N_("active outreach"),
    "naloxone_plus": N_("naloxone plus"),
    "officer_prevention": N_("officer prevention"),
    "officer_intervention": N_("officer intervention"),
}
NOT_SAID = N_("not said")

# Booking a time.
BOOK_PICK = N_("When would you like to talk? Pick a time:")
BOOK_NOBODY_NOW = N_(
    "Nobody is on call right now. If you need help now, call {hotline}. Or book a time to talk:"
)
BOOK_HINT = N_("Reply with a number.")
BOOKED_PERSON = N_(
    "You're booked: {when} with {coach}, a {role}. We'll remind you an hour before. "
    "Reply RESCHEDULE to pick another time or CANCEL TIME to cancel."
)
BOOKED_RESPONDER = N_("Booked: request {code} at {when}. Calendar invite: {link}")
REMIND_PERSON = N_("Reminder: {coach} will reach out at {when}.")
REMIND_RESPONDER = N_("Reminder: request {code} at {when}.")
BOOKING_CANCELLED_PERSON = N_("Your time is cancelled. You can text us any time.")
BOOKING_CANCELLED_RESPONDER = N_("Request {code} at {when} was cancelled by the person.")
NO_TIMES = N_(
    "There are no free times to book in the next two weeks. If you need help, call {hotline}. "
    "In an emergency, call {emergency}."
)
NOBODY_NO_TIMES = N_(
    "Nobody is on call right now. If you need help now, call {hotline}. In an emergency, call "
    "{emergency}."
)
RESCHEDULE_WORD = N_("RESCHEDULE")
CANCEL_TIME_WORD = N_("CANCEL TIME")
