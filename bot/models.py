"""The database schema (SQLAlchemy 2.0). Personal data columns are `Encrypted`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.crypto import Vault
from bot.sql_words import sql_in

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: The handoff statuses that count against a responder's capacity (routing reads them).
HOLDS_CAPACITY = ("offered", "accepted", "connected")


#: Outbox jobs still to run: waiting for their time, or held by a worker.
LIVE_JOB_STATUSES = ("pending", "running")
#: Texts tried at least once and waiting for their retry: a later text to the same person
#: must not overtake one (bot.outbox.rows, which names the same terms).
SENDS_AWAITING_RETRY = "kind = 'send' AND status = 'pending' AND attempts > 0"
#: Events about a handoff: a `handoff_id = ?` lookup implies it, on both backends.
ABOUT_A_HANDOFF = "handoff_id IS NOT NULL"
#: Jobs for an address (sends, not timers): an `identity_id = ?` lookup implies it.
TO_AN_ADDRESS = "identity_id IS NOT NULL"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def vault_of(dialect: Dialect) -> Vault:
    """The keys travel with the engine's dialect (set in `bot.db.make_engine`)."""
    vault = getattr(dialect, "doorway_vault", None)
    if vault is None:
        raise RuntimeError("this engine has no encryption keys; build it with bot.db.make_engine")
    return vault  # type: ignore[no-any-return]


class Encrypted(TypeDecorator[str]):
    """Text encrypted with the engine's vault: the database only ever sees tokens (`bot.crypto`)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else vault_of(dialect).encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else vault_of(dialect).decrypt(str(value))


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Contact(Base):
    """A person, across all the channels they use."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    language: Mapped[str | None] = mapped_column(String(16))
    display_name: Mapped[str | None] = mapped_column(Encrypted)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Set when this contact is a responder's own channel (alerts and relay go through it).
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("responders.id"), index=True)

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="contact")


class ChannelIdentity(Base):
    """One address on one channel (a phone number, a Telegram chat, a web-chat session)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "address_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address_index: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Encrypted)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: A message to this address is with the provider until then (the outbox sends outside
    #: any transaction): the next one waits, and a STOP's confirmation goes after it.
    sending_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    contact: Mapped[Contact] = relationship(back_populates="identities")


class Conversation(Base):
    """One run of a dialogue with a contact: the step, the answers and how it came about."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_contact_status", "contact_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"))
    dialogue_id: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(60))
    slots: Mapped[str | None] = mapped_column(Encrypted)  # JSON; free-text answers are personal
    misses: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|ended|closed|relay
    language: Mapped[str] = mapped_column(String(16))
    pathway: Mapped[str] = mapped_column(String(32), default="self_referral")
    referral_code: Mapped[str | None] = mapped_column(String(40))
    referral_team: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """Every message in or out. Bodies are encrypted and purged after the retention period."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_messages_identity_created", "identity_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in|out
    channel: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(80))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    body: Mapped[str | None] = mapped_column(Encrypted)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # choices etc., never personal
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    segments: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Event(Base):
    """Append-only record of what happened; outcomes are computed from these. No personal data."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind_created", "kind", "created_at"),
        # The events of a handoff (was it already unanswered once?), on the few events that
        # have one: with every event in the index, ANALYZE counted the others' NULLs as one
        # key of millions of rows, and SQLite read every event of the kind instead.
        Index(
            "ix_events_handoff_kind",
            "handoff_id",
            "kind",
            sqlite_where=text(ABOUT_A_HANDOFF),
            postgresql_where=text(ABOUT_A_HANDOFF),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Consent(Base):
    """A consent given or refused in the chat, with what it covered (42 CFR Part 2 elements)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    granted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(20))
    elements: Mapped[dict[str, Any]] = mapped_column(JSON)
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Responder(Base):
    """A peer recovery coach, clinician, on-call provider or supervisor."""

    __tablename__ = "responders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(30))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    interpreter: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_phone: Mapped[str | None] = mapped_column(Encrypted)
    sms_index: Mapped[str | None] = mapped_column(String(64), index=True)
    telegram_chat: Mapped[str | None] = mapped_column(Encrypted)
    telegram_index: Mapped[str | None] = mapped_column(String(64), index=True)
    last_offered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Shift(Base):
    """On-call time: a weekly window (program time zone) or a one-off override."""

    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    responder_id: Mapped[int] = mapped_column(ForeignKey("responders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # weekly|override
    weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday
    start_time: Mapped[dt.time | None] = mapped_column(Time)
    end_time: Mapped[dt.time | None] = mapped_column(Time)  # may be <= start: past midnight
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    available: Mapped[bool] = mapped_column(Boolean, default=True)  # False: time off


class Handoff(Base):
    """A request for a warm handoff, from `requested` to an outcome."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_created", "status", "created_at"),
        # Routing reads these for every handoff it routes. Partial, so years of closed
        # handoffs never turn them into scans, whatever the planner's statistics say.
        Index(
            "ix_handoffs_open_by_responder",
            "responder_id",
            sqlite_where=text(sql_in("status", HOLDS_CAPACITY)),
            postgresql_where=text(sql_in("status", HOLDS_CAPACITY)),
        ),
        Index(
            "ix_handoffs_booked",
            "scheduled_for",
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    kind: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(12))
    pathway: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(20))
    help_kind: Mapped[str | None] = mapped_column(String(30))
    contact_method: Mapped[str | None] = mapped_column(String(20))
    contact_time: Mapped[str | None] = mapped_column(String(20))
    display_name: Mapped[str | None] = mapped_column(Encrypted)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("responders.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    info_topic: Mapped[str | None] = mapped_column(String(30))
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    routing_round: Mapped[int] = mapped_column(Integer, default=0)
    checkins: Mapped[int] = mapped_column(Integer, default=0)


class HandoffOffer(Base):
    """One offer of a handoff to one responder, and how they answered."""

    __tablename__ = "handoff_offers"
    __table_args__ = (
        Index("ix_handoff_offers_responder_status", "responder_id", "status"),
        UniqueConstraint("handoff_id", "responder_id", "round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    responder_id: Mapped[int] = mapped_column(ForeignKey("responders.id"))
    round: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    offered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxJob(Base):
    """A durable job: send a message or fire a timer, at `due_at`, once."""

    __tablename__ = "outbox_jobs"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "due_at"),
        # The queue the worker claims from (bot.outbox.claim), timers apart from sends and
        # what is due apart from what is still to come: only the live jobs, so the jobs done
        # over the years never make a claim a scan; `scheduled` last, so the claim reads the
        # index alone.
        Index(
            "ix_outbox_live_kind_status_due",
            "kind",
            "status",
            "due_at",
            "scheduled",
            sqlite_where=text(sql_in("status", LIVE_JOB_STATUSES)),
            postgresql_where=text(sql_in("status", LIVE_JOB_STATUSES)),
        ),
        # Asked before every send: is an earlier text to this address waiting for its retry?
        # A handful of rows at most, so the answer never depends on the planner's statistics
        # of the identity index (mostly addressless timers, or years of one person's texts).
        Index(
            "ix_outbox_sends_awaiting_retry",
            "identity_id",
            "id",
            sqlite_where=text(SENDS_AWAITING_RETRY),
            postgresql_where=text(SENDS_AWAITING_RETRY),
        ),
        # What waits for an address, cancelled at STOP, when a number does not exist and at
        # erasure. Timers have no address: left out, their NULLs cannot make the statistics
        # call the index useless (SQLite then cancelled by status, reading every pending job).
        Index(
            "ix_outbox_addressed_status",
            "identity_id",
            "status",
            sqlite_where=text(TO_AN_ADDRESS),
            postgresql_where=text(TO_AN_ADDRESS),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # send|timer
    status: Mapped[str] = mapped_column(String(12), default="pending")
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)  # quiet hours apply
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReferralCode(Base):
    """A code on a card, kit, flyer or poster: it sets the pathway and the referring team."""

    __tablename__ = "referral_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    pathway: Mapped[str] = mapped_column(String(32))
    team: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Team(Base):
    """A referring team (QRT, Naloxone Plus, a police unit) with a hashed API key."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    api_key_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkCode(Base):
    """A one-time code a responder sends to the bot to link their chat account."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    responder_id: Mapped[int] = mapped_column(ForeignKey("responders.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(20), default="telegram")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowupEnrolment(Base):
    """A person a Quick Response Team enrolled in follow-up texts after an overdose response."""

    __tablename__ = "followup_enrolments"
    __table_args__ = (
        # The same person for the same event is one enrolment: enrolling again returns it.
        UniqueConstraint("identity_id", "event_at"),
        Index("ix_followup_enrolments_contact_status", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"))
    team: Mapped[str] = mapped_column(String(80))
    pathway: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    event_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    consent_method: Mapped[str] = mapped_column(String(12))  # scene|hospital|phone
    consent_by: Mapped[str] = mapped_column(Encrypted)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    display_name: Mapped[str | None] = mapped_column(Encrypted)
    notes: Mapped[str | None] = mapped_column(Encrypted)  # for the team only, never sent
    source: Mapped[str] = mapped_column(String(8))  # cli|csv|api
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|stopped|completed
    stop_reason: Mapped[str | None] = mapped_column(String(30))
    next_step: Mapped[int | None] = mapped_column(Integer)  # index into the cadence
    next_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(Integer)
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConsoleUser(Base):
    """A person who signs in to the web console: a coach, a supervisor or an admin."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))  # coach|supervisor|admin
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("responders.id"), index=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser: only a hash of its cookie is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who viewed or exported a person's data, or changed the program, and when."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
