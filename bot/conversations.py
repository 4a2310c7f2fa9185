"""Receive one inbound message: compliance, crisis, NLU, the dialogue step, one commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from bot import compliance, metrics
from bot.console import satisfaction
from bot.db import transaction
from bot.dialogue.effects import (
    Alert,
    Effect,
    End,
    OptOut,
    RecordConsent,
    RequestHandoff,
    Say,
    SetLanguage,
)
from bot.dialogue.matching import fold
from bot.dialogue.runtime import (
    GLOBAL_INTENT_MIN_CONFIDENCE,
    MSG_CONSENT_WITHDRAWN,
    WITHDRAW_WORD,
    DialogueState,
    UserMessage,
    initial_state,
    step,
)
from bot.dialogue.spec import DialogueSpec
from bot.events import record
from bot.followup.replies import (
    FOLLOWUP,
    FollowupReply,
    after_followup_turn,
    answering_state,
    followup_reply,
    followup_started,
)
from bot.handoff import booking, coach, relay
from bot.handoff import texts as handoff_texts
from bot.handoff.offers import schedule_routing
from bot.handoff.requests import ConsentAnswer, open_handoff, request_handoff
from bot.i18n import N_, Translator, fill
from bot.identities import create_identity
from bot.language_choice import LanguageChoice, choose_language, dialogue_parse, language_notes
from bot.messaging import (
    insert_message,
    jobs_queued,
    outbound_from_stored,
    queue_outbound,
    set_conversation,
    store_inline_reply,
    stored_replies,
)
from bot.models import ChannelIdentity, Consent, Contact, Conversation, Message, Responder
from bot.nlu.base import Parse
from bot.orm_rows import insert_object
from bot.outbox.delivery import heard_from
from bot.prepared import insert_row
from bot.progress import save_progress
from bot.ratelimit import MSG_SLOW_DOWN, Verdict
from bot.referrals import DEFAULT_PATHWAY
from bot.referrals import resolve as resolve_referral
from bot.render import program_params, render
from bot.safety.keywords import classify_keyword, is_opt_in
from bot.sender import Sender, continued_conversation, load_sender, new_sender
from bot.services import Services
from connectors.base import AnswerTo, InboundMessage, OutboundMessage, step_token

log = logging.getLogger(__name__)

#: How many segments a reply costs on the channel that delivers it (SMS).
SegmentCounter = Callable[[OutboundMessage], int]

INTAKE = "intake"
MAX_STORED_CHARS = 4000
MAX_PARSED_CHARS = 1000
MSG_MEDIA_ONLY = N_(
    "Thank you for sending this. I can only read text messages, so please write to me in words."
)
MSG_EMPTY = N_("I'm here. Write a few words about what you need, or reply HELP.")
#: What a provider's own keyword handling (Twilio's OptOutType) means here.
PROVIDER_KEYWORDS: dict[str, Literal["stop", "start", "help"]] = {
    "STOP": "stop",
    "START": "start",
    "HELP": "help",
}
#: How stale `last_inbound_at` (read by retention, which counts in days) may be: most
#: messages then write no UPDATE of their identity.
LAST_INBOUND_PRECISION = dt.timedelta(hours=1)
#: A message within this time after the end continues the ended conversation.
RESUME_ENDED_WITHIN = dt.timedelta(days=7)


@dataclass(frozen=True)
class ReceiveResult:
    #: Everything said in answer, in order (whether it rides in the response or the outbox).
    replies: tuple[OutboundMessage, ...]
    #: The replies the channel delivers in its response (`reply_inline`): stored as sent.
    in_response: tuple[OutboundMessage, ...] = ()
    duplicate: bool = False
    conversation_id: int | None = None
    #: A button's answer to a question no longer asked (a second tap, an old keyboard):
    #: nothing was stored or done.
    stale: bool = False


def clean_text(text: str) -> str:
    """What we store and read of a message: valid Unicode, no control characters, capped."""
    text = text.encode("utf-8", "ignore").decode("utf-8")
    kept = (
        ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co") else " "
        for ch in text
    )
    return "".join(kept).strip()[:MAX_STORED_CHARS]


def receive(
    services: Services,
    inbound: InboundMessage,
    *,
    reply_inline: bool,
    segments: SegmentCounter | None = None,
) -> ReceiveResult:
    """Handle one message in one transaction; a retry of the same provider id replays replies.

    With `reply_inline` the replies are returned for the channel to deliver in its response
    (stored as sent); otherwise they go to the outbox for the worker. `segments` lets a
    channel that bills by segment (SMS) have each inline reply's count stored with it.
    """
    text = clean_text(inbound.text)
    now = services.clock()
    # A provider's retry of a message we handled is rare: the first attempt does not look for
    # it, and the unique (channel, provider_id) makes its insert fail; then it is replayed.
    for attempt in range(3):
        try:
            with transaction(services.sessions) as session:
                result = _receive(
                    services, session, inbound, text, now, reply_inline, attempt > 0, segments
                )
                session.flush()
                queued = jobs_queued(session)
            metrics.inbound(inbound.channel, "duplicate" if result.duplicate else "handled")
            if queued:
                # A reply for the outbox, a routing timer, an alert: the worker goes now.
                services.wake_outbox(queued)
            return result
        except IntegrityError:
            # A copy of the same provider message is stored (by an earlier attempt or a
            # concurrent one): the next attempt looks for it and replays it.
            if attempt == 2:
                raise
        except DBAPIError as error:
            # The connection died under the transaction (the database restarted, a
            # failover): nothing was stored, or the commit was and the next attempt replays
            # it. The lost connection is discarded; the next attempt takes a fresh one, where
            # a 503 would leave the text unanswered (Twilio does not retry by default).
            if not error.connection_invalidated or attempt == 2:
                raise
            log.warning("database connection lost while handling a message; trying again")
    raise AssertionError("unreachable")


def _receive(
    services: Services,
    session: Session,
    inbound: InboundMessage,
    text: str,
    now: dt.datetime,
    reply_inline: bool,
    look_for_duplicate: bool,
    segments: SegmentCounter | None,
) -> ReceiveResult:
    sender = _sender(services, session, inbound, now)
    identity, contact = sender.identity, sender.contact
    conversation = continued_conversation(sender.latest_conversation, now, RESUME_ENDED_WITHIN)
    stale = inbound.answers is not None and not _still_asked(
        inbound.answers, conversation, identity
    )
    # A stale answer may be the provider's retry of one already handled: that is replayed.
    if inbound.provider_id and (look_for_duplicate or stale):
        earlier = session.scalar(
            select(Message).where(
                Message.channel == inbound.channel, Message.provider_id == inbound.provider_id
            )
        )
        if earlier is not None:
            stored = stored_replies(session, earlier, inbound.address)
            return ReceiveResult(
                replies=tuple(reply for reply, _ in stored),
                in_response=tuple(reply for reply, message in stored if _rode_in_response(message)),
                duplicate=True,
                conversation_id=earlier.conversation_id,
            )
    if sender.responder_id is not None and classify_keyword(text) is None:
        # A responder's own channel: offers, relay and outcomes, never the intake.
        responder = session.get(Responder, sender.responder_id)
        assert responder is not None
        contact.responder_id = responder.id
        insert_message(session, inbound_row(inbound, identity, text, now, conversation_id=None))
        coach.handle(services, session, responder, text, now)
        return ReceiveResult(replies=())
    if stale:
        return ReceiveResult(replies=(), stale=True)
    followup = (
        followup_reply(session, contact.id, conversation, now) if sender.checkin_sent else None
    )
    heard_from(session, identity, now)
    # A duplicate provider id fails here, before anything else is done.
    message_id = insert_message(
        session,
        inbound_row(
            inbound, identity, text, now, conversation_id=conversation.id if conversation else None
        ),
    )
    if identity.last_inbound_at is None or now - identity.last_inbound_at > LAST_INBOUND_PRECISION:
        identity.last_inbound_at = now
    turn = Turn(services, session, identity, contact, conversation, message_id, now, reply_inline)
    turn.followup = followup
    turn.satisfaction_asked = sender.satisfaction_asked
    turn.segments = segments
    turn.handle(text, inbound)
    session.flush()  # everything else the turn changed, in one flush
    return ReceiveResult(
        replies=tuple(reply for reply, _ in turn.said),
        in_response=tuple(reply for reply, inline in turn.said if inline),
        conversation_id=turn.conversation_id,
    )


def _rode_in_response(message: Message) -> bool:
    """An inline reply is stored as sent with no provider id; the outbox's sends have one."""
    return message.status == "sent" and message.provider_id is None


def _sender(
    services: Services, session: Session, inbound: InboundMessage, now: dt.datetime
) -> Sender:
    """Who wrote; a first message from an address creates its contact."""
    sender = load_sender(session, services.vault, inbound.channel, inbound.address, now)
    if sender is None:
        identity, created = create_identity(
            session, services.vault, inbound.channel, inbound.address, now, inbound_at=now
        )
        sender = (
            new_sender(session, identity)
            if created
            # Another first message from the address stored it meanwhile: read theirs.
            else load_sender(session, services.vault, inbound.channel, inbound.address, now)
        )
    assert sender is not None
    return sender


def _still_asked(
    answers: AnswerTo, conversation: Conversation | None, identity: ChannelIdentity
) -> bool:
    """Whether the question a button answers is the one being asked now."""
    return (
        conversation is not None
        and not identity.opted_out
        and conversation.id == answers.conversation_id
        and conversation.status == "active"
        and step_token(conversation.step) == answers.step_token
    )


def inbound_row(
    inbound: InboundMessage,
    identity: ChannelIdentity,
    text: str,
    now: dt.datetime,
    *,
    conversation_id: int | None,
) -> dict[str, Any]:
    """The row for a message someone sent (the body is encrypted by the column type)."""
    return dict(
        conversation_id=conversation_id,
        identity_id=identity.id,
        direction="in",
        channel=inbound.channel,
        provider_id=inbound.provider_id,
        body=text,
        status="received",
        created_at=now,
        meta={"media": inbound.media_count} if inbound.media_count else None,
    )


def current_conversation(
    session: Session, contact_id: int, now: dt.datetime
) -> Conversation | None:
    """The conversation a new message from this contact would continue (outside `receive`)."""
    latest = session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return continued_conversation(latest, now, RESUME_ENDED_WITHIN)


@dataclass
class Turn:
    """Everything done for one inbound message, inside its transaction."""

    services: Services
    session: Session
    identity: ChannelIdentity
    contact: Contact
    conversation: Conversation | None
    #: The stored row of the message this turn answers.
    inbound_id: int
    now: dt.datetime
    reply_inline: bool
    #: Counts an inline reply's segments where the channel bills by them (SMS).
    segments: SegmentCounter | None = None
    #: Each reply, with its stored message's id, in the order said; True when it rides in the
    #: channel's response (stored as sent), False when the outbox sends it.
    said: list[tuple[OutboundMessage, bool]] = field(default_factory=list)
    #: Set when the message answers a follow-up check-in: it starts a follow-up conversation.
    followup: FollowupReply | None = None
    #: The person was asked to rate a completed handoff: a 1-5 reply is recorded as that.
    satisfaction_asked: bool = False

    @property
    def conversation_id(self) -> int | None:
        return self.conversation.id if self.conversation else None

    # --- the order of checks (DESIGN.md, "The flow of one message") ---------------------------

    def handle(self, text: str, inbound: InboundMessage) -> None:
        keyword = classify_keyword(text) if text else None
        if keyword is None and inbound.provider_opt_out:
            keyword = PROVIDER_KEYWORDS.get(inbound.provider_opt_out.upper())
        if keyword == "stop":
            self.stop(via="keyword", provider_answered=bool(inbound.provider_opt_out))
            return
        if keyword == "help":
            self.help()
            return
        if keyword == "start" or is_opt_in(text, opted_out=self.identity.opted_out):
            self.start(provider_answered=bool(inbound.provider_opt_out))
            return

        language = self.language(inbound.language_hint)
        choice = self.choose_language(text, inbound.language_hint) if text else None
        language = choice.language if choice else language
        parse = self.services.interpreter.parse(text[:MAX_PARSED_CHARS], language) if text else None
        crisis = self.services.detect_crisis(text, language, parse) if text else None

        if self.identity.opted_out:
            # Nothing goes to an opted-out address, except the answer to a crisis they wrote.
            record(
                self.session,
                "inbound_while_opted_out",
                self.now,
                contact_id=self.contact.id,
                channel=self.identity.channel,
                crisis=crisis is not None,
            )
            if crisis is not None:
                self.run_dialogue(text, parse, crisis, language, force_deliver=True)
            return
        if crisis is None:
            # A flood from one address is slowed (stored, one note, then quiet); a crisis
            # message is always answered.
            verdict = self.services.inbound_limiter.check(self.identity.id, self.now)
            if verdict is not Verdict.ANSWER:
                record(
                    self.session,
                    "inbound_rate_limited",
                    self.now,
                    contact_id=self.contact.id,
                    channel=self.identity.channel,
                    noted=verdict is Verdict.NOTE,
                )
                if verdict is Verdict.NOTE:
                    self.say_plain(MSG_SLOW_DOWN)
                return
        if not text:
            self.say_plain(MSG_MEDIA_ONLY if inbound.media_count else MSG_EMPTY)
            return
        if (
            crisis is None
            and self.satisfaction_asked
            and satisfaction.answer(self.services, self.session, self.contact.id, text, self.now)
        ):
            return  # a 1-5 answer to the question asked after a completed handoff
        if self.conversation is not None and self.conversation.status in ("relay", "booking"):
            self.relay(text, parse, crisis, language)
            return
        assert choice is not None
        enabled = self.services.program.languages
        parse, language = dialogue_parse(
            choice, parse, first=self.conversation is None, enabled=enabled
        )
        if choice.chosen:
            self.contact.language = language
        lead, trail = language_notes(choice, enabled=enabled)
        self.run_dialogue(
            text, parse, crisis, language, referral=inbound.referral_code, notes=(lead, trail)
        )

    def relay(self, text: str, parse: Parse | None, crisis: str | None, language: str) -> None:
        """A responder is talking with this person: the bot steps back, except for a crisis
        (answered at once) and a withdrawal of consent (recorded, the responder told)."""
        assert self.conversation is not None
        if crisis is not None:
            self.run_dialogue(text, parse, crisis, language)
            self.conversation.status = "relay"
        withdraw_words = {fold(WITHDRAW_WORD), fold(self.translator().gettext(WITHDRAW_WORD))}
        if fold(text) in withdraw_words or (
            parse is not None
            and parse.intent == "withdraw_consent"
            and parse.confidence >= GLOBAL_INTENT_MIN_CONFIDENCE
        ):
            self.record_consent(RecordConsent(granted=False, withdrawn=True))
            self.say(Say(MSG_CONSENT_WITHDRAWN))
            return
        handoff = open_handoff(self.session, self.contact.id)
        if handoff is not None and crisis is None:
            if self.conversation.status == "booking" and booking.handle_booking_reply(
                self.services, self.session, handoff, text, self.now
            ):
                return
            if booking.person_changes_booking(self.services, self.session, handoff, text, self.now):
                return
            if self.conversation.status == "booking":
                self.conversation.status = "ended"  # not a pick: the dialogue answers instead
                self.run_dialogue(text, parse, crisis, language)
                return
        if not relay.person_to_responder(
            self.services, self.session, self.contact.id, text, self.now, crisis=crisis
        ):
            # The responder's side closed meanwhile: back to the dialogue.
            self.conversation.status = "ended"
            self.run_dialogue(text, parse, crisis, language)

    def choose_language(self, text: str, hint: str | None) -> LanguageChoice:
        """Explicit request > detection of a first message > the contact's, a hint, the default."""
        program = self.services.program
        fallback = self.language(hint)
        return choose_language(
            text,
            enabled=program.languages,
            fallback=fallback,
            current=self.conversation.language if self.conversation else None,
            informed=fallback != program.default_language or bool(hint or self.contact.language),
        )

    def language(self, hint: str | None) -> str:
        program = self.services.program
        if self.conversation is not None:
            return self.conversation.language
        if self.contact.language in program.languages:
            return str(self.contact.language)
        if hint:
            base = hint.replace("-", "_").split("_")[0]
            for enabled in program.languages:
                if enabled == hint or enabled.split("_")[0] == base:
                    return enabled
        return program.default_language

    # --- compliance --------------------------------------------------------------------------

    def stop(self, *, via: str, provider_answered: bool) -> None:
        if self.conversation is not None and self.conversation.status == "relay":
            relay.tell_responder_about(
                self.services,
                self.session,
                self.contact.id,
                handoff_texts.PERSON_OPTED_OUT,
                self.now,
            )
        changed = compliance.opt_out(
            self.session, self.identity, self.now, via=via, conversation=self.conversation
        )
        if changed and not provider_answered:
            if compliance.send_in_flight(self.identity, self.now):
                # A message is with the provider right now: the confirmation goes through the
                # outbox, which sends it after that one, so it is the last thing they get.
                self.reply_inline = False
            self.say_plain(compliance.MSG_STOPPED, force_deliver=True)

    def start(self, *, provider_answered: bool) -> None:
        compliance.opt_in(self.session, self.identity, self.now, via="keyword")
        heard_from(self.session, self.identity, self.now, opted_in=True)
        if not provider_answered:
            self.say_plain(compliance.MSG_STARTED)

    def help(self) -> None:
        record(
            self.session,
            "help_requested",
            self.now,
            contact_id=self.contact.id,
            channel=self.identity.channel,
        )
        self.say_plain(compliance.MSG_HELP, force_deliver=True)

    # --- the dialogue ------------------------------------------------------------------------

    def spec(self) -> DialogueSpec:
        return self.services.dialogues[self.dialogue_id()]

    def dialogue_id(self) -> str:
        if self.followup is not None:
            return FOLLOWUP
        return self.conversation.dialogue_id if self.conversation else INTAKE

    def start_conversation(self, language: str, referral: str | None) -> Conversation:
        # An unknown or disabled code starts a normal (self-referral) conversation.
        code = resolve_referral(self.session, referral)
        followup = self.followup  # a follow-up counts toward the enrolling team's pathway
        row = {
            "contact_id": self.contact.id,
            "identity_id": self.identity.id,
            "dialogue_id": self.dialogue_id(),
            "step": self.spec().start,
            "slots": json.dumps({}),
            "misses": 0,
            "status": "active",
            "language": language,
            "pathway": followup.pathway if followup else code.pathway if code else DEFAULT_PATHWAY,
            "referral_code": code.code if code else None,
            "referral_team": followup.team if followup else code.team if code else None,
            "started_at": self.now,
            "updated_at": self.now,
        }
        conversation = insert_object(self.session, Conversation, row)
        set_conversation(self.session, self.inbound_id, conversation.id)
        self.conversation = conversation
        record(
            self.session,
            "conversation_started",
            self.now,
            contact_id=self.contact.id,
            conversation_id=conversation.id,
            channel=self.identity.channel,
            language=language,
            pathway=conversation.pathway,
            dialogue=conversation.dialogue_id,
        )
        return conversation

    def run_dialogue(
        self,
        text: str,
        parse: Parse | None,
        crisis: str | None,
        language: str,
        *,
        referral: str | None = None,
        force_deliver: bool = False,
        notes: tuple[tuple[Say, ...], tuple[Say, ...]] = ((), ()),
    ) -> None:
        spec = self.spec()
        event = UserMessage(
            text=text,
            intent=parse.intent if parse else "out_of_scope",
            confidence=parse.confidence if parse else 0.0,
            crisis="overdose" if crisis == "overdose" else "suicide" if crisis else None,
            language=_language_entity(parse),
        )
        translator = self.services.catalogs.translator(language)
        if self.followup is not None:
            self.start_followup(language)
            state = answering_state(spec)
        elif self.conversation is None:
            self.start_conversation(language, referral)
            state = initial_state(spec)
        else:
            state = self.load_state()
        previous = state.step
        state, effects = step(spec, state, event, self.now, translator.gettext)
        # Language notes go around the dialogue's reply: why this language, then the offer.
        lead, trail = notes
        effects = [*lead, *effects, *trail]
        self.apply(state, effects, previous=previous, force_deliver=force_deliver)
        if self.conversation is not None:
            after_followup_turn(self.session, self.conversation, self.now)

    def start_followup(self, language: str) -> None:
        """The message answers a check-in: a follow-up conversation, attributed to the team."""
        followup = self.followup
        assert followup is not None
        conversation = self.start_conversation(language, None)
        followup_started(self.session, followup, conversation, self.now)
        self.followup = None

    def load_state(self) -> DialogueState:
        assert self.conversation is not None
        slots = json.loads(self.conversation.slots or "{}")
        status: Literal["active", "ended"] = (
            "ended" if self.conversation.status == "ended" else "active"
        )
        return DialogueState(
            dialogue_id=self.conversation.dialogue_id,
            step=self.conversation.step,
            slots=slots,
            misses=self.conversation.misses,
            status=status,
        )

    def apply(
        self,
        state: DialogueState,
        effects: list[Effect],
        *,
        previous: str | None = None,
        force_deliver: bool = False,
    ) -> None:
        conversation = self.conversation
        assert conversation is not None
        consent: ConsentAnswer | None = None
        for effect in effects:
            if isinstance(effect, SetLanguage):
                self.set_language(effect.language)
        for effect in effects:
            if isinstance(effect, Say):
                self.say(effect, force_deliver=force_deliver)
            elif isinstance(effect, RecordConsent):
                consent = self.record_consent(effect)
            elif isinstance(effect, RequestHandoff):
                handoff = request_handoff(
                    self.session,
                    conversation,
                    effect,
                    self.now,
                    channel=self.identity.channel,
                    consent_given_now=consent,
                )
                if handoff.status in ("requested", "offered") and (
                    handoff.status == "requested" or effect.urgency == "crisis"
                ):
                    schedule_routing(self.session, handoff, self.now)
            elif isinstance(effect, Alert):
                record(
                    self.session,
                    "crisis_detected",
                    self.now,
                    contact_id=self.contact.id,
                    conversation_id=conversation.id,
                    kind=effect.kind,
                    channel=self.identity.channel,
                    opted_out=self.identity.opted_out,
                )
            elif isinstance(effect, OptOut):
                self.stop(via="nlu", provider_answered=False)
            elif isinstance(effect, End) and conversation.status != "ended":
                record(
                    self.session,
                    "conversation_ended",
                    self.now,
                    contact_id=self.contact.id,
                    conversation_id=conversation.id,
                    step=state.step,
                )
        if conversation.status == "closed":
            return  # an opt-out closed it while applying; it stays closed
        if previous is not None and previous != state.step:
            record(
                self.session,
                "step",
                self.now,
                contact_id=self.contact.id,
                conversation_id=conversation.id,
                data={"from": previous, "to": state.step},
            )
        save_progress(
            self.session,
            conversation,
            step=state.step,
            slots=json.dumps(dict(state.slots)),
            misses=state.misses,
            status="ended" if state.status == "ended" else "active",
            now=self.now,
        )

    def set_language(self, language: str) -> None:
        assert self.conversation is not None
        if language not in self.services.program.languages:
            return
        old = self.conversation.language
        self.conversation.language = language
        self.contact.language = language
        if old != language:
            record(
                self.session,
                "language_changed",
                self.now,
                contact_id=self.contact.id,
                conversation_id=self.conversation.id,
                data={"from": old, "to": language},
            )

    def record_consent(self, effect: RecordConsent) -> ConsentAnswer | None:
        """Store an answer to the consent question (the new row), or withdraw consent (None)."""
        assert self.conversation is not None
        if effect.withdrawn:
            active = self.session.scalars(
                select(Consent).where(
                    Consent.contact_id == self.contact.id,
                    Consent.granted.is_(True),
                    Consent.withdrawn_at.is_(None),
                )
            ).all()
            for consent in active:
                consent.withdrawn_at = self.now
            record(
                self.session,
                "consent_withdrawn",
                self.now,
                contact_id=self.contact.id,
                conversation_id=self.conversation.id,
                count=len(active),
            )
            relay.tell_responder_about(
                self.services,
                self.session,
                self.contact.id,
                handoff_texts.CONSENT_WITHDRAWN,
                self.now,
            )
            return None
        program = self.services.program
        consent_id = insert_row(
            self.session,
            Consent,
            {
                "contact_id": self.contact.id,
                "conversation_id": self.conversation.id,
                "granted": effect.granted,
                "version": program.consent_version,
                "language": self.conversation.language,
                "channel": self.identity.channel,
                "elements": consent_elements(program.organisation),
                "given_at": self.now,
            },
        )
        record(
            self.session,
            "consent_given" if effect.granted else "consent_declined",
            self.now,
            contact_id=self.contact.id,
            conversation_id=self.conversation.id,
            version=program.consent_version,
        )
        return ConsentAnswer(consent_id, effect.granted)

    # --- replies -----------------------------------------------------------------------------

    def translator(self) -> Translator:
        language = self.conversation.language if self.conversation else self.language(None)
        return self.services.catalogs.translator(language)

    def say_plain(self, text: str, *, force_deliver: bool = False) -> None:
        self.say(Say(text), force_deliver=force_deliver)

    def say(self, say: Say, *, force_deliver: bool = False) -> None:
        """Store the reply and either return it inline or queue it for the worker."""
        if self.identity.opted_out and not force_deliver:
            return
        translator = self.translator()
        outbound = render(
            say,
            translator=translator,
            program_values=program_params(self.services.program, translator),
            channel=self.identity.channel,
            address=self.identity.address,
        )
        conversation_id = self.conversation_id
        if self.reply_inline:
            message_id = store_inline_reply(
                self.session,
                self.identity,
                outbound,
                self.now,
                conversation_id=conversation_id,
                reply_to_id=self.inbound_id,
                segments=self.segments(outbound) if self.segments else None,
            )
        else:
            message_id = queue_outbound(
                self.session,
                self.identity,
                outbound,
                self.now,
                conversation_id=conversation_id,
                reply_to_id=self.inbound_id,
                force=force_deliver,
            )
        stored = dataclasses.replace(
            outbound, message_id=message_id, conversation_id=conversation_id
        )
        self.said.append((stored, self.reply_inline))


def consent_elements(organisation: str) -> dict[str, str]:
    """What a consent covers, in the terms of 42 CFR 2.31 (stored with every consent)."""
    return {
        "discloser": organisation,
        "recipients": f"peer recovery coaches and on-call providers of {organisation}",
        "information": "chosen name, language, help asked for, contact preferences",
        "purpose": "at the request of the person, to connect them with support",
        "expires": "when the person withdraws it or one year after it was given",
        "revocation": "reply WITHDRAW in the chat, or ask any staff member",
    }


def _language_entity(parse: Parse | None) -> str | None:
    if parse is None:
        return None
    for entity in parse.entities:
        if entity.entity == "language":
            return entity.value
    return None


__all__ = ["ReceiveResult", "clean_text", "fill", "outbound_from_stored", "receive"]
