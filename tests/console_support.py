"""Helpers for the console tests: a hotline with the console mounted, users, signing in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.console.users import add_user
from bot.db import transaction
from bot.models import Handoff
from bot.services import Services
from bot.web.app import create_app
from tests.conftest import FakeClock
from tests.fakes.twilio_api import running_fake
from tests.fakes.twilio_app import PERSON, attach
from tests.test_handoff_flow import INTAKE, JO, MAYA, PUBLIC, Line, add_responder

PASSWORD = "correct horse battery"


def add_console_user(
    services: Services, name: str, role: str, responder: str | None = None
) -> None:
    with transaction(services.sessions) as session:
        add_user(
            session, name, role=role, password=PASSWORD, now=services.clock(), responder=responder
        )


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> int:
    client.cookies.clear()
    client.get("/console/login")
    token = client.cookies.get("doorway_console_login")
    response = client.post(
        "/console/login",
        data={"username": name, "password": password, "csrf": token or "", "next": "/console/"},
        follow_redirects=False,
    )
    return response.status_code


def csrf_of(client: TestClient, page: str = "/console/shifts") -> str:
    html = client.get(page).text
    return html.split('name="csrf" content="')[1].split('"')[0]


def the_handoff(services: Services) -> Handoff:
    with services.sessions() as session:
        return session.scalars(select(Handoff)).one()


@pytest.fixture
def hotline(sqlite_services: Services, clock: FakeClock) -> Iterator[Line]:
    """Maya and Jo on call, coaches maya/jo, supervisor sup, admin root; a request offered."""
    services = sqlite_services
    with running_fake() as fake:
        connector = attach(services, fake, PUBLIC)
        with TestClient(create_app(services, [connector])) as client:
            add_responder(services, "Maya Lopez", MAYA)
            add_responder(services, "Jo Park", JO)
            add_console_user(services, "maya", "coach", "Maya Lopez")
            add_console_user(services, "jo", "coach", "Jo Park")
            add_console_user(services, "sup", "supervisor")
            add_console_user(services, "root", "admin")
            line = Line(services, client, fake, clock)
            for body in INTAKE:
                line.text(body)
            line.work()
            yield line


PERSON_NUMBER = PERSON
__all__ = ["INTAKE", "JO", "MAYA", "PERSON_NUMBER", "PUBLIC", "Line"]
