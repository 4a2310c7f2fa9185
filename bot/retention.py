"""The retention job: free text goes after `retention_days`, consent records after six years.

`purge(services, now, dry_run=False)` is what `doorway purge` runs and what the outbox worker
may call periodically (it is idempotent and only ever removes what is past its time).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.dialogue.spec import DialogueSpec
from bot.handoff.requests import OPEN_STATUSES
from bot.models import ChannelIdentity, Consent, Contact, Conversation, Handoff, Message
from bot.services import Services

#: HIPAA keeps authorisations and their revocations six years (45 CFR 164.316(b)(2)); the
#: extra two days cover the leap days of any six years.
CONSENT_RETENTION = dt.timedelta(days=6 * 365 + 2)
SLOT_BATCH = 500

#: The kinds a purge reports, in the order it reports them.
KINDS = (
    "message_bodies",
    "conversation_free_text",
    "handoff_display_names",
    "contact_display_names",
    "consent_records",
)


@dataclass
class PurgeReport:
    """How many items of each kind went (or would go, in a dry run). Never any content."""

    dry_run: bool
    cutoff: dt.datetime
    consent_cutoff: dt.datetime
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> Iterator[str]:
        verb = "would be removed" if self.dry_run else "removed"
        yield f"Free text older than {self.cutoff.date().isoformat()} and consent records"
        yield f"older than {self.consent_cutoff.date().isoformat()} ({verb}):"
        for kind in KINDS:
            yield f"  {kind}: {self.counts[kind]}"
        if self.dry_run:
            yield "Dry run: nothing was changed."


def purge(services: Services, now: dt.datetime, *, dry_run: bool = False) -> PurgeReport:
    """Remove what the retention policy says must go; events are never touched.

    One transaction: a failure leaves everything as it was, and the next run retries.
    """
    report = PurgeReport(
        dry_run=dry_run,
        cutoff=now - dt.timedelta(days=services.program.retention_days),
        consent_cutoff=now - CONSENT_RETENTION,
    )
    keep = choice_values(services.dialogues)
    with transaction(services.sessions) as session:
        report.counts["message_bodies"] = _message_bodies(session, report.cutoff, dry_run)
        report.counts["conversation_free_text"] = _free_text(session, report.cutoff, keep, dry_run)
        report.counts["handoff_display_names"] = _handoff_names(session, report.cutoff, dry_run)
        report.counts["contact_display_names"] = _contact_names(session, report.cutoff, dry_run)
        report.counts["consent_records"] = _consents(session, report.consent_cutoff, dry_run)
    return report


def choice_values(dialogues: Mapping[str, DialogueSpec]) -> dict[str, frozenset[str]]:
    """The slot values the flows themselves define (choices); anything else is free text.

    An allow-list on purpose: a slot added to a flow tomorrow is treated as personal until it
    is a choice, so a forgotten update can only remove too much, never keep too much.
    """
    found: dict[str, set[str]] = {}
    for spec in dialogues.values():
        for step in spec.steps.values():
            for choice in step.choices:
                if step.slot and step.input == "choice":
                    found.setdefault(step.slot, set()).add(choice.value)
                for name, value in choice.set.items():
                    found.setdefault(name, set()).add(value)
    return {name: frozenset(values) for name, values in found.items()}


def strip_free_text(
    slots: Mapping[str, object], keep: Mapping[str, frozenset[str]]
) -> dict[str, object]:
    return {
        name: value
        for name, value in slots.items()
        if isinstance(value, str) and value in keep.get(name, frozenset())
    }


def _count(session: Session, query: Select[int]) -> int:
    return int(session.scalar(query) or 0)


def _message_bodies(session: Session, cutoff: dt.datetime, dry_run: bool) -> int:
    where = (Message.created_at < cutoff, Message.body.is_not(None))
    found = _count(session, select(func.count(Message.id)).where(*where))
    if found and not dry_run:
        session.execute(
            update(Message).where(*where).values(body=None),
            execution_options={"synchronize_session": False},
        )
    return found


def _free_text(
    session: Session, cutoff: dt.datetime, keep: Mapping[str, frozenset[str]], dry_run: bool
) -> int:
    """Conversations untouched since the cutoff keep only their choice answers."""
    changed = 0
    last_id = 0
    while True:
        batch = session.scalars(
            select(Conversation)
            .where(
                Conversation.updated_at < cutoff,
                Conversation.slots.is_not(None),
                Conversation.id > last_id,
            )
            .order_by(Conversation.id)
            .limit(SLOT_BATCH)
        ).all()
        if not batch:
            return changed
        for conversation in batch:
            slots = json.loads(conversation.slots or "{}")
            kept = strip_free_text(slots, keep)
            if kept != slots:
                changed += 1
                if not dry_run:
                    conversation.slots = json.dumps(kept)
        last_id = batch[-1].id
        session.flush()


def _closed_before(cutoff: dt.datetime) -> ColumnElement[bool]:
    return (Handoff.status.not_in(OPEN_STATUSES)) & (
        func.coalesce(Handoff.closed_at, Handoff.created_at) < cutoff
    )


def _handoff_names(session: Session, cutoff: dt.datetime, dry_run: bool) -> int:
    """Names on handoffs a coach no longer works on; open ones keep theirs until closed."""
    where = (_closed_before(cutoff), Handoff.display_name.is_not(None))
    found = _count(session, select(func.count(Handoff.id)).where(*where))
    if found and not dry_run:
        session.execute(
            update(Handoff).where(*where).values(display_name=None),
            execution_options={"synchronize_session": False},
        )
    return found


def _contact_names(session: Session, cutoff: dt.datetime, dry_run: bool) -> int:
    """A contact's name goes once none of their addresses has written since the cutoff."""
    recent = (
        select(ChannelIdentity.id)
        .where(
            ChannelIdentity.contact_id == Contact.id,
            func.coalesce(ChannelIdentity.last_inbound_at, ChannelIdentity.created_at) >= cutoff,
        )
        .exists()
    )
    where = (Contact.display_name.is_not(None), Contact.created_at < cutoff, ~recent)
    found = _count(session, select(func.count(Contact.id)).where(*where))
    if found and not dry_run:
        session.execute(
            update(Contact).where(*where).values(display_name=None),
            execution_options={"synchronize_session": False},
        )
    return found


def _consents(session: Session, cutoff: dt.datetime, dry_run: bool) -> int:
    """Consent records six years after they were last in effect (given, or withdrawn)."""
    expired = func.coalesce(Consent.withdrawn_at, Consent.given_at) < cutoff
    found = _count(session, select(func.count(Consent.id)).where(expired))
    if found and not dry_run:
        old = select(Consent.id).where(expired).scalar_subquery()
        session.execute(
            update(Handoff).where(Handoff.consent_id.in_(old)).values(consent_id=None),
            execution_options={"synchronize_session": False},
        )
        session.execute(
            delete(Consent).where(expired), execution_options={"synchronize_session": False}
        )
    return found
