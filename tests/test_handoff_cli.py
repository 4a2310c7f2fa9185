"""`doorway responders|shifts|oncall` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run


def test_responders_shifts_and_oncall(tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = run(list(args), tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    ok(
        "responders",
        "add",
        "Ana Ruiz",
        "--languages",
        "en,es",
        "--skills",
        "moud",
        "--sms",
        "+15555550111",
    )
    ok("responders", "add", "Bo Chen", "--role", "supervisor")
    rows = [json.loads(x) for x in ok("responders", "list", "--json").splitlines()]
    assert [(r["name"], r["shown_as"], r["alerts"]) for r in rows] == [
        ("Ana Ruiz", "Ana", ["sms"]),
        ("Bo Chen", "Bo", []),
    ]
    assert "5555550111" not in ok("responders", "list")

    csv = tmp_path / "shifts.csv"
    csv.write_text("name,weekday,start,end\nAna Ruiz,mon,08:00,20:00\nBo Chen,Mon,20:00,08:00\n")
    assert "Imported 2 weekly shifts." in ok("shifts", "import", str(csv))
    assert "Ana Ruiz" in ok("oncall", "--at", "2026-03-02T09:00")
    night = ok("oncall", "--at", "2026-03-03T02:00")
    assert "Bo Chen" in night and "Ana Ruiz" not in night
    ok(
        "shifts",
        "add",
        "Ana Ruiz",
        "--start-at",
        "2026-03-02T10:00",
        "--end-at",
        "2026-03-02T12:00",
        "--time-off",
    )
    assert "nobody" in ok("oncall", "--at", "2026-03-02T11:00")
    ok("responders", "deactivate", "Ana Ruiz")
    assert "nobody" in ok("oncall", "--at", "2026-03-02T09:00")


def test_bad_csv_row_names_line_and_imports_nothing(tmp_path: Path) -> None:
    assert run(["responders", "add", "Ana Ruiz"], tmp_path).returncode == 0
    csv = tmp_path / "shifts.csv"
    csv.write_text(
        "name,weekday,start,end\nAna Ruiz,mon,08:00,20:00\nAna Ruiz,funday,08:00,20:00\n"
    )
    result = run(["shifts", "import", str(csv)], tmp_path)
    assert result.returncode == 2
    assert f"{csv}:3: weekday 'funday'" in result.stderr
    assert "weekly" not in run(["shifts", "list"], tmp_path).stdout


def test_unknown_responder_is_a_clear_error(tmp_path: Path) -> None:
    result = run(["responders", "deactivate", "Nobody"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "doorway: no responder named 'Nobody'"
