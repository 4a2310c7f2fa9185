"""The outbox worker: claim due jobs, check in the sending transaction that each is still
allowed, send through the channel's connector, and record what happened."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import importlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot import metrics
from bot.compliance import send_in_flight
from bot.db import transaction, writer_lock
from bot.messaging import jobs_queued, outbound_from_stored
from bot.models import ChannelIdentity, Message, OutboxJob
from bot.outbox.claim import Claim, JobKind, claim_jobs, release
from bot.outbox.delivery import mark_unreachable, record_failed, record_sent
from bot.outbox.faults import (
    AnsweredButUnrecorded,
    fail_message,
    job_state,
    record_accepted_send,
)
from bot.outbox.policy import SenderPace, Slot, backoff, next_allowed, recipient_zones
from bot.outbox.rows import load_job
from bot.outbox.settings import BUSY_MARGIN_SECONDS, OutboxSettings, load_outbox_settings
from bot.services import Services
from connectors.base import Connector, OutboundMessage, SendResult

log = logging.getLogger(__name__)

Outcome = Literal[
    "sent", "retry", "failed", "cancelled", "rescheduled", "deferred", "lost", "timer"
]
#: Outcomes that may have used the sender's slot; the others hand it back.
_SENT_OR_TRIED: frozenset[Outcome] = frozenset({"sent", "retry", "failed"})
Sleep = Callable[[float], Awaitable[None]]
#: A job whose address is busy with another send looks again this soon.
BUSY_RECHECK = dt.timedelta(seconds=1)
#: About how long one round's paced sends may take. A round ends with its last job, and what
#: falls due meanwhile (a handoff's routing timer) waits for the next: at one text a second,
#: a round of ten sends held a new handoff back for ten seconds.
ROUND_SECONDS = 2.0

#: A timer job's handler runs inside the job's transaction; another module registers it.
TimerHandler = Callable[[Services, Session, OutboxJob, dt.datetime], None]
TIMERS: dict[str, TimerHandler] = {}


def register_timer(name: str, handler: TimerHandler) -> None:
    """Let a component (escalation, follow-ups) handle its `kind="timer"` jobs by name."""
    TIMERS[name] = handler


#: The components that register timers when imported. A separate worker process imports them
#: so it runs every timer a server queues, without importing the web app that also does.
TIMER_MODULES = ("bot.followup.campaign", "bot.handoff.offers", "bot.handoff.booking")


def load_timers() -> None:
    """Register every component's timers (importing a module twice is free)."""
    for name in TIMER_MODULES:
        importlib.import_module(name)


class Worker:
    """One worker's state across rounds: settings, the pace per sender and the jitter source."""

    def __init__(
        self,
        services: Services,
        settings: OutboxSettings | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.services = services
        self.settings = settings or load_outbox_settings()
        self.sleep = sleep
        # Jitter only spreads retries in time; it needs no cryptographic randomness.
        self.rng = rng or random.Random()  # noqa: S311
        self.pace = SenderPace(
            self.settings.rate_per_second,
            services.clock,
            per_channel={"telegram": self.settings.telegram_rate_per_second},
        )
        #: Jobs at once in a round (see `OutboxSettings.concurrency`).
        self.concurrency = self.settings.concurrency
        #: How long an address is marked busy while a message to it is with the provider.
        self.in_flight_for = dt.timedelta(
            seconds=self.settings.send_timeout_seconds + BUSY_MARGIN_SECONDS
        )
        #: Set on shutdown; checked before each job, so a send is never cut in half.
        self.stopping = False
        #: Claimed jobs handed back unstarted since this worker began (for the stop log line).
        self.released = 0
        #: A timer queued texts since the runner last looked.
        self.queued_sends = False
        #: Threads for jobs, kept across rounds (see `_threads_for`).
        self._threads: dict[str, ThreadPoolExecutor] = {}

    def close(self) -> None:
        """Let the job threads go once idle; a job still running finishes first."""
        for threads in self._threads.values():
            threads.shutdown(wait=False)
        self._threads.clear()

    def request_stop(self) -> None:
        """Finish the jobs in hand, then hand the rest of the batch back. It only sets a flag,
        so a signal handler may call it."""
        self.stopping = True

    def batch_size(self, limit: int | None) -> int:
        """Jobs claimed in one round, timers and sends."""
        return limit or self.settings.batch_size

    def send_batch_size(self, limit: int | None) -> int:
        """Sends claimed in one round: what the SMS pace (the slowest) sends in about
        ROUND_SECONDS, and never more than can be sent well inside the lease. A round lasts
        until its last send, so Telegram's faster pace makes its rounds shorter, not bigger."""
        size = self.batch_size(limit)
        rate = self.settings.rate_per_second
        if rate > 0:
            seconds = min(ROUND_SECONDS, self.settings.lease_seconds / 2)
            size = min(size, max(1, int(rate * seconds)))
        return size

    async def run_once(self, *, limit: int | None = None, kind: JobKind | None = None) -> int:
        """Handle one batch of due jobs (of one `kind`, or both); returns how many were started."""
        return (await self.run_round(limit=limit, kind=kind)).started

    async def run_round(self, *, limit: int | None = None, kind: JobKind | None = None) -> Round:
        """One batch of due jobs, and whether more may be due already.

        The answer is the round's own: the runner's timer and send loops share this worker.
        A round that ends early (a stop, a cancellation, an error) lets the jobs in flight
        finish and hands back the ones it never started rather than leaving them held until
        the lease runs out; then an error is raised again.
        """
        if self.stopping:
            return Round(started=0, more_due=False)
        most, most_sends = self.batch_size(limit), self.send_batch_size(limit)
        claims = await asyncio.to_thread(
            claim_jobs,
            self.services,
            limit=most,
            lease_seconds=self.settings.lease_seconds,
            send_limit=most_sends,
            kind=kind,
            max_attempts=self.settings.max_attempts,
        )
        sends = sum(claim.kind != "timer" for claim in claims)
        more_due = len(claims) >= most or sends >= most_sends
        if not claims:
            return Round(started=0, more_due=False)
        batch = _Batch(claims)
        # Timers are database work only: side by side they would just queue at the database
        # (on SQLite, its one writer) in front of other work.
        concurrency = 1 if kind == "timer" else self.concurrency
        try:
            await self._run_lanes(batch, concurrency, self._threads_for(kind, concurrency))
        finally:
            unstarted = batch.unstarted()
            if unstarted:
                await self._hand_back(unstarted)
        if batch.errors:
            for extra in batch.errors[1:]:
                log.error("outbox: another job failed too: %s", type(extra).__name__)
            raise batch.errors[0]
        return Round(started=len(batch.started), more_due=more_due)

    def _threads_for(self, kind: JobKind | None, concurrency: int) -> ThreadPoolExecutor:
        """The job threads of one kind of round, made once per worker.

        Jobs get threads of their own, not the loop's default pool: a connector's send runs
        on the loop and may need that pool (the Twilio SDK does), so jobs waiting for their
        sends must never fill it. Timers have their own (PostgreSQL; SQLite runs them on the
        loop), so a handoff's routing never waits for a thread behind sends waiting on the
        provider. Made once: a pool per round
        started new threads every round, and the event loop waits for each new thread to
        start, which under load means waiting for the GIL while webhooks queue.
        """
        name = "timer" if kind == "timer" else "send"
        threads = self._threads.get(name)
        if threads is None:
            threads = ThreadPoolExecutor(concurrency, thread_name_prefix=f"doorway-{name}")
            self._threads[name] = threads
        return threads

    async def _run_lanes(self, batch: _Batch, concurrency: int, threads: Executor) -> None:
        """Run the batch's lanes side by side, at most `concurrency` jobs at once (a cancelled
        round leaves the jobs it started to finish in their threads)."""
        lanes = by_recipient(batch.claims) if concurrency > 1 else [batch.claims]
        turns = asyncio.Semaphore(concurrency)
        # Lanes catch their own errors, so every lane has ended when this returns.
        await asyncio.gather(*(self._run_lane(lane, batch, turns, threads) for lane in lanes))

    async def _run_lane(
        self, lane: list[Claim], batch: _Batch, turns: asyncio.Semaphore, threads: Executor
    ) -> None:
        """One recipient's jobs, one after another in claim order.

        A job holds its turn while it waits for its sender's slot: a slot taken before the
        turn could pass while the job waits, and its send would land on the next one's.
        """
        try:
            for claim in lane:
                async with turns:
                    if not await self._run_job(claim, batch, threads):
                        return
        except Exception as exc:
            batch.errors.append(exc)  # the other lanes start nothing more, then it is raised

    async def _run_job(self, claim: Claim, batch: _Batch, threads: Executor) -> bool:
        """Wait for the sender's slot, then run the job in a thread; False when the round is
        ending (a stop, another job's error) and the job stays unstarted."""
        if self._ending(batch):
            return False
        slot = await self._take_slot(claim)
        if self._ending(batch):
            self._give_back(slot)
            return False
        loop = asyncio.get_running_loop()
        # Started from here on: a job handed to a thread may send, so it is never released.
        batch.started.add(claim.job_id)
        try:
            outcome = await self._run(claim, threads, loop)
        except Exception as exc:
            # One job's fault (a row the keys cannot read, a broken constraint) must not stop
            # every other job: it backs off alone. Its lane stops, so none of the person's
            # later messages overtake it.
            outcome = await loop.run_in_executor(threads, self._crashed, claim, exc)
            metrics.outbound(claim.channel, outcome)
            return False
        metrics.outbound(claim.channel, outcome)
        if outcome not in _SENT_OR_TRIED:
            self._give_back(slot)
        return True

    async def _run(
        self, claim: Claim, threads: Executor, loop: asyncio.AbstractEventLoop
    ) -> Outcome:
        """On SQLite the job's check (a timer: all of it) runs on the event loop, at the
        writer lock's background turn: it is database work only, and a job thread trading
        the GIL with the loop's webhooks cost more than it. The send and its record run in a
        job thread, which may wait on the provider. PostgreSQL runs the whole job there."""
        lock = writer_lock(self.services.engine)
        if lock is None:
            return await loop.run_in_executor(threads, self.process, claim, loop)
        await lock.acquire_on_loop(background=True)
        try:
            checked = self._check(claim)
        finally:
            lock.release()
        if not isinstance(checked, _Send):
            return checked
        return await loop.run_in_executor(threads, self._send, claim, checked, loop)

    def _ending(self, batch: _Batch) -> bool:
        return self.stopping or bool(batch.errors)

    async def _take_slot(self, claim: Claim) -> Slot | None:
        """Reserve the sender's next slot and sleep until it (timers send nothing)."""
        if claim.channel is None:
            return None
        slot = self.pace.reserve(claim.channel)
        if slot.wait > 0:
            await self.sleep(slot.wait)
        return slot

    def _give_back(self, slot: Slot | None) -> None:
        if slot is not None:
            self.pace.give_back(slot)

    async def _hand_back(self, claims: list[Claim]) -> None:
        try:
            self.released += await asyncio.to_thread(release, self.services, claims)
        except Exception as exc:
            # Not fatal: the jobs come back when their lease runs out, as after a crash.
            log.warning("outbox: could not release %d jobs: %s", len(claims), type(exc).__name__)

    # --- one job, two short transactions ----------------------------------------------------

    def process(self, claim: Claim, loop: asyncio.AbstractEventLoop) -> Outcome:
        """Check and mark the address busy (a short transaction), send with no lock held, then
        record what the provider said (another).

        No database lock is held while the provider answers (100-300 ms, up to the timeout):
        on SQLite that lock is the one writer every webhook needs. A STOP that lands during
        the send is stored at once; its confirmation is queued behind the message in flight
        (see `Turn.stop`), so nothing ever reaches the person after it.
        """
        checked = self._check(claim)
        if not isinstance(checked, _Send):
            return checked
        return self._send(claim, checked, loop)

    def _send(self, claim: Claim, checked: _Send, loop: asyncio.AbstractEventLoop) -> Outcome:
        """Send what the check allowed, with no lock held, then record the answer."""
        result = self._deliver(checked.connector, checked.outbound, loop)
        try:
            return self._finish(claim, checked, result)
        except Exception as exc:
            raise AnsweredButUnrecorded(result, checked.busy_until) from exc

    def _check(self, claim: Claim) -> Outcome | _Send:
        """Everything that decides whether the job may send now, in the transaction that
        marks its address busy; a timer runs here whole."""
        services = self.services
        with transaction(services.sessions, background=True) as session:
            rows = load_job(session, claim.job_id, ask_held=True)
            if rows is None:
                return "lost"
            job, identity, message = rows.job, rows.identity, rows.message
            now = services.clock()
            if job.status != "running" or job.claimed_until != claim.lease:
                return "lost"  # the lease ran out and another worker took it
            if job.kind == "timer":
                return self._timer(session, job, now)
            if message is None or identity is None:
                return _cancel(job, None, now, "nothing to send")
            reason = self._not_allowed(job, message, identity)
            if reason is not None:
                return _cancel(job, message, now, reason)
            if rows.held_until is not None:
                # An earlier text to the person failed for now and waits for its retry:
                # this one goes after it, or the person would read the replies out of order.
                _release(job, max(rows.held_until, now), now)
                return "deferred"
            if job.scheduled:
                zones = recipient_zones(identity.address, services.program.tz)
                allowed = next_allowed(now, zones, services.program.quiet_hours)
                if allowed > now:
                    _release(job, allowed, now)
                    return "rescheduled"
            if send_in_flight(identity, now):
                # Another worker is sending to this address: one at a time, in order.
                assert identity.sending_until is not None
                _release(job, min(identity.sending_until, now + BUSY_RECHECK), now)
                return "deferred"
            connector = services.connectors.get(message.channel)
            if connector is None:
                return self._record(
                    session, job, message, identity, SendResult(error_code="channel_off"), now
                )
            identity.sending_until = now + self.in_flight_for
            return _Send(
                connector, outbound_from_stored(message, identity.address), identity.sending_until
            )

    def _finish(self, claim: Claim, checked: _Send, result: SendResult) -> Outcome:
        """Record the provider's answer and free the address for its next message."""
        with transaction(self.services.sessions, background=True) as session:
            rows = load_job(session, claim.job_id)
            now = self.services.clock()
            identity = rows.identity if rows is not None else None
            if identity is not None and identity.sending_until == checked.busy_until:
                identity.sending_until = None
            if (
                rows is None
                or rows.message is None
                or rows.identity is None
                or rows.job.status != "running"
                or rows.job.claimed_until != claim.lease
            ):
                # The send outlived the lease: the worker that took the job over records it.
                log.warning("outbox: job %s lost its lease while sending", claim.job_id)
                return "lost"
            return self._record(session, rows.job, rows.message, rows.identity, result, now)

    @staticmethod
    def _not_allowed(job: OutboxJob, message: Message, identity: ChannelIdentity) -> str | None:
        if message.status != "queued" or message.direction != "out":
            return "no longer wanted"
        if identity.unreachable:
            return "unreachable"
        if identity.opted_out:
            payload = job.payload or {}
            # Only the answer to the person's own message (the STOP confirmation, HELP, a
            # crisis reply) may reach an opted-out address.
            own_reply = payload.get("reply") and message.reply_to_id is not None
            if not (payload.get("force") and own_reply):
                return "opted out"
        return None

    def _deliver(
        self, connector: Connector, outbound: OutboundMessage, loop: asyncio.AbstractEventLoop
    ) -> SendResult:
        # The send runs on the event loop the connector lives on; this thread waits for it.
        future = asyncio.run_coroutine_threadsafe(connector.send(outbound), loop)
        try:
            return future.result(timeout=self.settings.send_timeout_seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return SendResult(error_code="timeout")
        except Exception as exc:
            # The type only: an exception's text may carry an address or a body.
            log.warning("outbox: %s raised %s", connector.name, type(exc).__name__)
            return SendResult(error_code=f"error:{type(exc).__name__}"[:16])

    def _record(
        self,
        session: Session,
        job: OutboxJob,
        message: Message,
        identity: ChannelIdentity,
        result: SendResult,
        now: dt.datetime,
    ) -> Outcome:
        job.claimed_until = None
        job.updated_at = now
        message.updated_at = now
        if result.ok:
            job.status = "done"
            job.last_error = None
            message.status = "sent"
            message.provider_id = result.provider_id
            message.error_code = None
            if result.extra.get("segments", "").isdigit():
                message.segments = int(result.extra["segments"])
            record_sent(
                session,
                now,
                contact_id=identity.contact_id,
                conversation_id=message.conversation_id,
                channel=message.channel,
                attempts=job.attempts,
                scheduled=job.scheduled,
            )
            log.info("outbox: job %s sent on %s", job.id, message.channel)
            return "sent"
        code = result.error_code or "unknown"
        message.error_code = code[:16]
        job.last_error = code[:200]
        if not result.permanent and job.attempts < self.settings.max_attempts:
            job.status = "pending"
            job.due_at = self._retry_at(now, job.attempts, at_least=result.retry_after)
            log.info("outbox: job %s failed (%s), will retry", job.id, code)
            return "retry"
        job.status = "failed"
        message.status = "failed"
        record_failed(
            session,
            now,
            contact_id=identity.contact_id,
            conversation_id=message.conversation_id,
            channel=message.channel,
            error_code=code,
            permanent=result.permanent,
            attempts=job.attempts,
        )
        unreachable = result.extra.get("unreachable")
        if result.permanent and unreachable:
            mark_unreachable(session, identity, unreachable, now)
        log.warning("outbox: job %s failed for good (%s)", job.id, code)
        return "failed"

    def _crashed(self, claim: Claim, exc: Exception) -> Outcome:
        """Back off a job that raised, and give it up after the attempt limit, as a failed
        send would be; a send the provider accepted is recorded as sent instead, never sent
        again. Written without loading the job's rows (they may be what failed). If even
        this cannot be written (the database is down), it raises and the round fails."""
        cause = exc.__cause__ if isinstance(exc, AnsweredButUnrecorded) else exc
        log.error("outbox: job %s raised %s", claim.job_id, type(cause).__name__)
        if isinstance(exc, AnsweredButUnrecorded) and exc.result.ok:
            accepted = record_accepted_send(self.services, claim.job_id, claim.lease, exc)
            return "sent" if accepted else "lost"
        error = f"error:{type(cause).__name__}"
        with transaction(self.services.sessions, background=True) as session:
            now = self.services.clock()
            row = job_state(session, claim.job_id)
            if row is None or row.status != "running" or row.claimed_until != claim.lease:
                return "lost"
            give_up = row.attempts >= self.settings.max_attempts
            due = self._retry_at(now, row.attempts)
            session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == claim.job_id)
                .values(
                    status="failed" if give_up else "pending",
                    due_at=now if give_up else due,
                    claimed_until=None,
                    last_error=error[:200],
                    updated_at=now,
                )
            )
            if give_up:
                fail_message(session, row, error, now)
        return "failed" if give_up else "retry"

    def _timer(self, session: Session, job: OutboxJob, now: dt.datetime) -> Outcome:
        name = str((job.payload or {}).get("timer", ""))
        handler = TIMERS.get(name)
        if handler is None:
            # This process may not have imported the module that owns the timer: retry, so a
            # worker started without it does not fail every timer for good.
            log.warning("outbox: job %s has no handler for timer %r", job.id, name)
            return self._retry_timer(job, now, f"no handler for timer {name!r}")
        try:
            with session.begin_nested():  # a failing handler leaves no half-done changes
                handler(self.services, session, job, now)
        except Exception as exc:
            log.warning("outbox: timer job %s raised %s", job.id, type(exc).__name__)
            return self._retry_timer(job, now, f"error:{type(exc).__name__}")
        if "send" in jobs_queued(session):
            self.queued_sends = True
        # Written after the handler: the savepoint would flush them in an UPDATE of their own.
        job.status = "done"
        job.last_error = None
        job.claimed_until = None
        job.updated_at = now
        return "timer"

    def _retry_timer(self, job: OutboxJob, now: dt.datetime, error: str) -> Outcome:
        job.claimed_until = None
        job.updated_at = now
        job.last_error = error[:200]
        if job.attempts >= self.settings.max_attempts:
            job.status = "failed"
            return "failed"
        job.status = "pending"
        job.due_at = self._retry_at(now, job.attempts)
        return "retry"

    def _retry_at(
        self, now: dt.datetime, attempts: int, *, at_least: float | None = None
    ) -> dt.datetime:
        """When a job that failed `attempts` times goes again: the settings' growing back-off."""
        return now + backoff(
            attempts,
            base=self.settings.backoff_base_seconds,
            cap=self.settings.backoff_cap_seconds,
            rng=self.rng,
            at_least=at_least,
        )


@dataclass(frozen=True)
class Round:
    """What one round did: jobs started, and whether its claim was full (more may be due)."""

    started: int
    more_due: bool


@dataclass(frozen=True)
class _Send:
    """A send checked and marked in flight, to be made outside any transaction."""

    connector: Connector
    outbound: OutboundMessage
    busy_until: dt.datetime


class _Batch:
    """One round's claims, which of them were started, and the errors jobs raised."""

    def __init__(self, claims: list[Claim]) -> None:
        self.claims = claims
        self.started: set[int] = set()
        self.errors: list[Exception] = []

    def unstarted(self) -> list[Claim]:
        return [claim for claim in self.claims if claim.job_id not in self.started]


def by_recipient(claims: Sequence[Claim]) -> list[list[Claim]]:
    """Split a batch into lanes that may run side by side: one per recipient, keeping claim
    order (a person's messages arrive in the order they were queued, except that a scheduled
    check-in waits behind a later text someone is waiting for: `claim_order`), and one per
    timer."""
    lanes: dict[tuple[str, int], list[Claim]] = {}
    for claim in claims:
        key = ("job", claim.job_id) if claim.recipient is None else ("to", claim.recipient)
        lanes.setdefault(key, []).append(claim)
    return list(lanes.values())


def _cancel(job: OutboxJob, message: Message | None, now: dt.datetime, reason: str) -> Outcome:
    job.status = "cancelled"
    job.claimed_until = None
    job.last_error = reason
    job.updated_at = now
    if message is not None and message.status == "queued":
        message.status = "cancelled"
        message.updated_at = now
    return "cancelled"


def _release(job: OutboxJob, due_at: dt.datetime, now: dt.datetime) -> None:
    """Put a job back for later; waiting for allowed hours is not a failed attempt."""
    job.status = "pending"
    job.due_at = due_at
    job.claimed_until = None
    job.attempts = max(0, job.attempts - 1)
    job.updated_at = now


async def run_once(
    services: Services, *, limit: int | None = None, settings: OutboxSettings | None = None
) -> int:
    """One round with a fresh worker (the CLI's `--once`, tests); returns jobs handled."""
    worker = Worker(services, settings)
    try:
        return await worker.run_once(limit=limit)
    finally:
        worker.close()
