"""`doorway outbox status`: how many jobs wait, are due, failed, and how late the oldest is."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.models import OutboxJob
from bot.services import Services


@dataclass(frozen=True)
class OutboxStatus:
    queued: int  # pending, due or not
    due: int  # pending and due now
    running: int
    failed: int
    lag_seconds: float  # how long the oldest due job has waited (0 when none)

    def lines(self) -> list[str]:
        return [
            f"queued:  {self.queued}",
            f"due:     {self.due}",
            f"running: {self.running}",
            f"failed:  {self.failed}",
            f"lag:     {self.lag_seconds:.1f} s",
        ]


def outbox_status(services: Services) -> OutboxStatus:
    now = services.clock()
    with services.read_sessions() as session:
        rows = session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status))
        counts = {status: int(number) for status, number in rows}
        due = (OutboxJob.status == "pending") & (OutboxJob.due_at <= now)
        due_count = session.scalar(select(func.count()).where(due)) or 0
        oldest = session.scalar(select(func.min(OutboxJob.due_at)).where(due))
    lag = (now - oldest).total_seconds() if oldest is not None else 0.0
    return OutboxStatus(
        queued=counts.get("pending", 0),
        due=due_count,
        running=counts.get("running", 0),
        failed=counts.get("failed", 0),
        lag_seconds=max(0.0, lag),
    )
