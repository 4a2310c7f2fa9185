"""Routing's two lookups stay on their partial indexes in a database full of closed handoffs.

Found under load on a database with 100,000 closed handoffs after ANALYZE: SQLite then
estimated that `status = 'accepted'` matched every row (one status in the statistics) and
scanned the table at every route, and counted open handoffs per responder through the whole
history of each responder's handoffs.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.sql import Select

from bot.handoff.booking import BOOKED_TIMES
from bot.handoff.roster import OPEN_COUNTS
from bot.models import Contact, Handoff, Responder
from bot.services import Services

CLOSED_HANDOFFS = 3_000
AT = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def _fill_history(services: Services) -> None:
    """Closed handoffs only, each with a responder and every fifth booked, then ANALYZE."""
    with services.engine.begin() as connection:
        connection.execute(
            sa.insert(Responder),
            [
                {"name": f"coach{i}", "display_name": f"Coach {i}", "role": "peer"}
                for i in range(1, 11)
            ],
        )
        connection.execute(
            sa.insert(Contact), [{"id": i, "created_at": AT} for i in range(1, CLOSED_HANDOFFS + 1)]
        )
        connection.execute(
            sa.insert(Handoff),
            [
                {
                    "code": f"H{i:07d}",
                    "contact_id": i,
                    "status": "completed",
                    "kind": "coach",
                    "urgency": "today",
                    "pathway": "self_referral",
                    "language": "en",
                    "channel": "sms",
                    "responder_id": 1 + i % 10,
                    "scheduled_for": AT if i % 5 == 0 else None,
                    "created_at": AT,
                }
                for i in range(1, CLOSED_HANDOFFS + 1)
            ],
        )
        connection.exec_driver_sql("ANALYZE")


@pytest.mark.parametrize(
    ("lookup", "statement", "index"),
    [
        ("open handoffs per responder", OPEN_COUNTS, "ix_handoffs_open_by_responder"),
        ("times already booked", BOOKED_TIMES, "ix_handoffs_booked"),
    ],
)
def test_routing_lookup_uses_its_partial_index(
    sqlite_services: Services, lookup: str, statement: Select[tuple[object, ...]], index: str
) -> None:
    _fill_history(sqlite_services)
    sql = str(statement.compile(sqlite_services.engine))
    with sqlite_services.engine.connect() as connection:
        plan = " | ".join(
            str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
        )
    assert f"USING INDEX {index}" in plan, f"{lookup}: {plan}"
