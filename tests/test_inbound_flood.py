"""A flood from one address is slowed without slowing anyone else, and a crisis still gets
its answer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.conversations import receive
from bot.models import Message
from bot.ratelimit import InboundLimiter
from bot.services import Services
from connectors.base import InboundMessage


def send(services: Services, address: str, text: str, n: int) -> list[str]:
    inbound = InboundMessage("sms", address, text, f"{address}-{n}", dt.datetime.now(dt.UTC))
    return [r.text for r in receive(services, inbound, reply_inline=True).replies]


def test_flood_is_slowed_crisis_still_answered(sqlite_services: Services) -> None:
    sqlite_services.inbound_limiter = InboundLimiter(per_minute=5)
    flood = "+12125550150"
    answered = [send(sqlite_services, flood, "zzz", n) for n in range(8)]
    assert all(answered[:5])
    assert answered[5] == [
        "I got several messages at once. Please give me a minute before writing again. "
        "If this is an emergency, call 911."
    ]
    assert answered[6] == [] and answered[7] == []
    crisis = send(sqlite_services, flood, "my friend is not breathing", 9)
    assert crisis and crisis[0].startswith("Call 911 now")
    assert send(sqlite_services, "+12125550151", "hi", 1)  # someone else is not slowed
    with sqlite_services.sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
    assert stored == 10  # every message is stored, answered or not
