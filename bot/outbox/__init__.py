"""The durable outbox: every channel's outbound messages and timers, sent by one worker."""

from bot.outbox.delivery import mark_unreachable, queue_stored_replies, record_status
from bot.outbox.runner import BackgroundWorker
from bot.outbox.settings import OutboxSettings, load_outbox_settings
from bot.outbox.status import OutboxStatus, outbox_status
from bot.outbox.worker import Worker, register_timer, run_once

__all__ = [
    "BackgroundWorker",
    "OutboxSettings",
    "OutboxStatus",
    "Worker",
    "load_outbox_settings",
    "mark_unreachable",
    "outbox_status",
    "queue_stored_replies",
    "record_status",
    "register_timer",
    "run_once",
]
