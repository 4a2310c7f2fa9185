"""The console in a real browser (Debian's Chromium through Playwright): a coach accepts an
offer that arrived by SMS, chats with the person, closes it; a supervisor sees the funnel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.models import HandoffOffer, Responder
from bot.services import Services
from bot.web.app import create_app
from tests.conftest import FakeClock
from tests.console_support import PASSWORD, add_console_user, the_handoff
from tests.fakes.twilio_api import running_fake
from tests.fakes.twilio_app import PERSON, attach, free_socket, live_server
from tests.test_handoff_flow import INTAKE, MAYA, PUBLIC, Line, add_responder

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install playwright)"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need Chromium and Playwright in CI: {problem}")
    pytest.skip(problem)


@pytest.fixture
def served(sqlite_services: Services, clock: FakeClock) -> Iterator[tuple[Line, str]]:
    services = sqlite_services
    with running_fake() as fake:
        sock = free_socket()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        connector = attach(services, fake, PUBLIC)  # webhooks are signed for it
        app = create_app(services, [connector])
        with live_server(app, sock):
            yield Line(services, TestClient(app), fake, clock), base


def test_coach_and_supervisor_in_the_browser(served: tuple[Line, str]) -> None:
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    line, base = served
    services = line.services
    pool = ThreadPoolExecutor(max_workers=1)  # Playwright's loop owns this thread

    def work() -> list[tuple[str, str]]:
        return pool.submit(line.work).result()

    def text(body: str) -> None:
        pool.submit(line.text, body).result()

    add_responder(services, "Maya Lopez", MAYA)
    add_responder(services, "Jo Park", "+12125550178")
    add_console_user(services, "maya", "coach", "Maya Lopez")
    add_console_user(services, "jo", "coach", "Jo Park")
    add_console_user(services, "sup", "supervisor")
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(f"{base}/console/login")
        page.screenshot(path=str(SHOTS / "login.png"))
        page.fill("#username", "maya")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#offers")).to_contain_text("No new requests")

        # A person texts the hotline; the worker routes the offer: it appears without a reload.
        for body in INTAKE:
            text(body)
        work()
        code = the_handoff(services).code
        with services.sessions() as session:
            offer = session.scalars(select(HandoffOffer)).one()
            offered = session.get(Responder, offer.responder_id)
            assert offered is not None and offered.name == "Maya Lopez", "sequential: Maya first"
        expect(page.locator(f'li[data-code="{code}"]')).to_be_visible(timeout=10_000)
        expect(page).to_have_title(f"(1) {services.program.short_name}")
        page.screenshot(path=str(SHOTS / "offers.png"))

        page.click(f'li[data-code="{code}"] button:has-text("Accept")')
        expect(page.locator("h1")).to_contain_text(code)
        work()
        page.fill("#text", "Hi Sam, this is Maya. Is now a good time?")
        page.click("#composer button")
        expect(page.locator("#chat")).to_contain_text("Is now a good time?")
        sent = work()
        assert ("+12125550123", "Hi Sam, this is Maya. Is now a good time?") in sent
        text("yes, call me now")
        expect(page.locator("#chat")).to_contain_text("yes, call me now", timeout=10_000)
        page.screenshot(path=str(SHOTS / "handoff-chat.png"), full_page=True)
        page.check('input[name=rating][value="5"]')
        page.click("text=Close the request")
        expect(page.locator("#offers")).to_be_visible()
        assert the_handoff(services).status == "completed"

        # Another coach cannot open it; a form without its CSRF token is refused.
        other = browser.new_page()
        other.goto(f"{base}/console/login")
        other.fill("#username", "jo")
        other.fill("#password", PASSWORD)
        other.click("button[type=submit]")
        denied = other.goto(f"{base}/console/handoffs/{code}")
        assert denied is not None and denied.status == 403
        expect(other.locator("main")).to_contain_text("You do not have access")
        forged = other.request.post(f"{base}/console/offers/{code}/accept", form={"x": "1"})
        assert forged.status == 403

        sup = browser.new_page(viewport={"width": 1100, "height": 900})
        sup.goto(f"{base}/console/login")
        sup.fill("#username", "sup")
        sup.fill("#password", PASSWORD)
        sup.click("button[type=submit]")
        expect(sup.locator("h1")).to_contain_text("Waiting")
        sup.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
        sup.goto(f"{base}/console/dashboard")
        expect(sup.locator('#funnel td[data-stage="completed"]')).to_have_text("1")
        expect(sup.locator('#funnel td[data-stage="contacts"]')).to_have_text("1")
        sup.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
        browser.close()
    pool.shutdown()
    assert PERSON == "+12125550123"
