"""Enrolment: one service behind the CSV import, the API and the CLI; validation, idempotency,
team keys and what is stored (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.db import transaction
from bot.followup.csvimport import ImportRejected, import_csv
from bot.followup.enrolment import EnrolmentError, EnrolmentFields, enroll_one, parse_fields
from bot.followup.teams import add_team, authenticate, disable_team
from bot.models import ChannelIdentity, Consent, Contact, Event, FollowupEnrolment, Team
from bot.services import Services
from bot.web.app import create_app
from tests.test_cli import run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "followup"
TEAM = "QRT North"


def add_qrt(services: Services, name: str = TEAM) -> str:
    with transaction(services.sessions) as session:
        return add_team(session, name, services.clock())[1]


def body(services: Services, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "phone": "(212) 555-0123",
        "language": "en",
        "event_time": (services.clock() - dt.timedelta(hours=2)).isoformat(),
        "consent": "scene",
        "consent_by": "Officer Diaz",
        "name": "Sam",
        "notes": "Met at the park",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def count(services: Services, model: type[object]) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(sa.func.count()).select_from(model)) or 0)


# --- the service -----------------------------------------------------------------------------


def test_enrolment_is_stored_encrypted_and_idempotent(services: Services) -> None:
    add_qrt(services)
    fields = EnrolmentFields.model_validate(body(services))
    first = enroll_one(services, fields, team=TEAM, source="cli")
    again = enroll_one(services, fields, team=TEAM, source="api")
    assert first.created and not again.created
    assert again.enrolment.id == first.enrolment.id
    assert count(services, FollowupEnrolment) == 1
    with services.sessions() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        consent = session.scalars(select(Consent)).one()
        contact = session.scalars(select(Contact)).one()
    # The same identity an inbound text from this number finds: a reply continues here.
    assert (identity.channel, identity.address) == ("sms", "+12125550123")
    assert (contact.language, contact.display_name) == ("en", "Sam")
    assert consent.granted and consent.elements["obtained"] == "scene"
    with services.engine.connect() as connection:
        raw = connection.execute(
            sa.text("SELECT notes, display_name, consent_by FROM followup_enrolments")
        ).one()
        events = connection.execute(sa.text("SELECT data FROM events")).all()
    assert "park" not in str(raw) and "Sam" not in str(raw) and "Diaz" not in str(raw)
    assert "5550123" not in str(events) and "Sam" not in str(events)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"phone": "12"}, "phone: not a valid phone number"),
        ({"phone": "call me maybe"}, "phone: not a phone number"),
        ({"language": "xx"}, "language: 'xx' is not offered (en)"),
        ({"event_time": "2026-03-09T10:00"}, "event_time: is in the future"),
        ({"event_time": "2025-11-01T10:00"}, "event_time: is more than 60 days ago"),
        ({"consent": "email"}, "consent: Input should be 'scene', 'hospital' or 'phone'"),
        ({"time_zone": "Mars/Olympus"}, "time_zone: not a known time zone"),
        ({"phone": None}, "give exactly one of phone or telegram_chat_id"),
        ({"telegram_chat_id": "12345"}, "give exactly one of phone or telegram_chat_id"),
    ],
)
def test_bad_fields_are_refused_with_a_reason(
    sqlite_services: Services, changes: dict[str, object], reason: str
) -> None:
    add_qrt(sqlite_services)
    with pytest.raises(EnrolmentError) as raised:
        values = {k: str(v) for k, v in body(sqlite_services, **changes).items()}
        enroll_one(sqlite_services, parse_fields(values), team=TEAM, source="cli")
    assert reason in str(raised.value)
    assert count(sqlite_services, FollowupEnrolment) == 0


def test_a_telegram_identity_can_be_enrolled(sqlite_services: Services) -> None:
    add_qrt(sqlite_services)
    fields = EnrolmentFields.model_validate(
        body(sqlite_services, phone=None, telegram_chat_id="42")
    )
    made = enroll_one(sqlite_services, fields, team=TEAM, source="cli")
    assert made.created
    with sqlite_services.sessions() as session:
        assert session.scalars(select(ChannelIdentity)).one().channel == "telegram"


def test_an_opted_out_number_cannot_be_enrolled(sqlite_services: Services) -> None:
    add_qrt(sqlite_services)
    from bot.conversations import receive
    from connectors.base import InboundMessage

    inbound = InboundMessage("sms", "+12125550123", "STOP", "SM1", sqlite_services.clock())
    receive(sqlite_services, inbound, reply_inline=True)
    with pytest.raises(EnrolmentError, match="replied STOP"):
        enroll_one(
            sqlite_services,
            EnrolmentFields.model_validate(body(sqlite_services)),
            team=TEAM,
            source="cli",
        )


# --- CSV -------------------------------------------------------------------------------------


def test_csv_import_enrols_every_row_and_again_none(sqlite_services: Services) -> None:
    add_qrt(sqlite_services)
    report = import_csv(sqlite_services, FIXTURES / "good.csv")
    assert (report.created, report.already) == (3, 0)
    report = import_csv(sqlite_services, FIXTURES / "good.csv")
    assert (report.created, report.already) == (0, 3)
    with sqlite_services.sessions() as session:
        zones = [e.time_zone for e in session.scalars(select(FollowupEnrolment))]
    assert zones == [None, "America/Los_Angeles", None]


def test_a_bad_csv_row_is_reported_by_line_and_nothing_is_imported(
    sqlite_services: Services,
) -> None:
    add_qrt(sqlite_services)
    with pytest.raises(ImportRejected) as raised:
        import_csv(sqlite_services, FIXTURES / "bad.csv")
    assert [str(p) for p in raised.value.problems] == [
        "line 3: phone: not a phone number",
        "line 4: consent: Input should be 'scene', 'hospital' or 'phone'",
        "line 5: event_time: is in the future",
        "line 6: team: no active team named 'QRT South' (see `doorway teams list`)",
    ]
    assert count(sqlite_services, FollowupEnrolment) == 0
    assert count(sqlite_services, Contact) == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("phone,language\n+12125550123,en\n", "line 1: missing column(s): event_time, team"),
        (
            "phone,language,event_time,team,consent,consent_by,age\n",
            "line 1: unknown column(s): age",
        ),
        ("phone,language,event_time,team,consent,consent_by\n", "line 2: the file has no rows"),
        (
            "phone,language,event_time,team,consent,consent_by\n1,2,3,4,5,6,7\n",
            "line 2: more values than columns",
        ),
    ],
)
def test_a_malformed_csv_file_is_refused(
    sqlite_services: Services, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content)
    with pytest.raises(ImportRejected) as raised:
        import_csv(sqlite_services, path)
    assert problem in str(raised.value)


# --- team keys and the API -------------------------------------------------------------------


def test_team_keys_are_stored_hashed_and_disabling_revokes_them(
    sqlite_services: Services,
) -> None:
    key = add_qrt(sqlite_services)
    with transaction(sqlite_services.sessions) as session:
        team = session.scalars(select(Team)).one()
        assert team.api_key_hash is not None and key not in team.api_key_hash
        assert authenticate(session, key) is team
        assert authenticate(session, key + "x") is None
        assert authenticate(session, "not-a-key") is None
        disable_team(session, TEAM)
        assert authenticate(session, key) is None


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as test_client:
        yield test_client


def test_the_api_enrols_once_and_returns_the_same_enrolment(
    services: Services, client: TestClient
) -> None:
    key = add_qrt(services)
    auth = {"Authorization": f"Bearer {key}"}
    first = client.post("/api/v1/followups", json=body(services), headers=auth)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/followups", json=body(services), headers=auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert first.json() == {**again.json(), "created": True}
    assert first.json()["team"] == TEAM and first.json()["status"] == "active"
    assert "phone" not in first.text and "Sam" not in first.text
    with services.sessions() as session:
        enrolled = session.scalars(select(Event).where(Event.kind == "followup_enrolled")).one()
    assert enrolled.data["source"] == "api"


def test_the_api_refuses_without_a_valid_key_and_explains_bad_fields(
    sqlite_services: Services,
) -> None:
    key = add_qrt(sqlite_services)
    with TestClient(create_app(sqlite_services)) as client:
        url = "/api/v1/followups"
        nobody = client.post(url, json=body(sqlite_services))
        assert nobody.status_code == 401
        assert nobody.headers["www-authenticate"] == "Bearer"
        wrong = client.post(url, json=body(sqlite_services), headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        auth = {"Authorization": f"Bearer {key}"}
        bad_phone = client.post(url, json=body(sqlite_services, phone="12"), headers=auth)
        assert bad_phone.status_code == 422
        assert bad_phone.json() == {
            "error": "unprocessable_entity",
            "reason": "phone: not a valid phone number",
        }
        missing = client.post(url, json=body(sqlite_services, consent=None), headers=auth)
        assert missing.status_code == 422
        assert missing.json()["reason"].startswith("consent")
        extra = client.post(url, json=body(sqlite_services, ssn="123"), headers=auth)
        assert extra.status_code == 422
        huge = client.post(url, json=body(sqlite_services, notes="x" * 20_000), headers=auth)
        assert huge.status_code == 413
        with transaction(sqlite_services.sessions) as session:
            disable_team(session, TEAM)
        disabled = client.post(url, json=body(sqlite_services), headers=auth)
        assert disabled.status_code == 401
    assert count(sqlite_services, FollowupEnrolment) == 0


def test_the_openapi_schema_documents_the_endpoint(sqlite_services: Services) -> None:
    with TestClient(create_app(sqlite_services)) as client:
        schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/followups"]["post"]
    assert {"200", "201", "401", "413", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"TeamKey": []}]
    assert "EnrolmentOut" in schema["components"]["schemas"]
    assert "consent_by" in schema["components"]["schemas"]["EnrolmentFields"]["properties"]


# --- the CLI ---------------------------------------------------------------------------------


def test_the_cli_adds_a_team_enrols_lists_and_stops(tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = run(list(args), tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    added = ok("teams", "add", TEAM)
    key = added.strip().splitlines()[-1]
    assert key.startswith("dwk_")
    assert TEAM in ok("teams", "list") and key not in ok("teams", "list", "--json")
    event = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    enrol = [
        "followup", "enroll", "--phone", "212-555-0123", "--language", "en",
        "--event-time", event, "--team", TEAM, "--consent", "scene",
        "--consent-by", "Officer Diaz", "--name", "Sam", "--notes", "park",
    ]  # fmt: skip
    assert "Enrolled: follow-up 1" in ok(*enrol)
    assert "Already enrolled" in ok(*enrol)
    listed = json.loads(ok("followup", "list", "--json"))
    assert [(r["id"], r["team"], r["status"], r["next_step"]) for r in listed] == [
        (1, TEAM, "active", "day 0")
    ]
    assert "5550123" not in json.dumps(listed) and "Sam" not in json.dumps(listed)
    shown = ok("followup", "list", "--show-contact")
    assert "+12125550123" in shown and "Sam" in shown
    assert "stopped" in ok("followup", "stop", "1")
    assert json.loads(ok("followup", "list", "--json"))[0]["stop_reason"] == "staff"
    bad = run([*enrol[:3], "12", *enrol[4:]], tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "doorway: phone: not a valid phone number"
    csv = tmp_path / "bad.csv"
    csv.write_text((FIXTURES / "bad.csv").read_text())
    refused = run(["followup", "import", str(csv)], tmp_path)
    assert refused.returncode == 2 and "nothing was imported" in refused.stderr
    assert "line 6: team: no active team" in refused.stderr
    ok("teams", "disable", TEAM)
    assert "disabled" in ok("teams", "list")


def test_erasing_a_person_stops_and_scrubs_their_follow_ups(sqlite_services: Services) -> None:
    from bot.followup.erase import erase_enrolments

    add_qrt(sqlite_services)
    fields = EnrolmentFields.model_validate(body(sqlite_services))
    made = enroll_one(sqlite_services, fields, team=TEAM, source="cli").enrolment
    with transaction(sqlite_services.sessions) as session:
        assert erase_enrolments(session, made.contact_id, sqlite_services.clock()) == 1
    with sqlite_services.sessions() as session:
        row = session.get(FollowupEnrolment, made.id)
        assert row is not None
        assert (row.status, row.display_name, row.notes, row.consent_by) == (
            "stopped",
            None,
            None,
            "(erased)",
        )
