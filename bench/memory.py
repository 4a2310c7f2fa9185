"""Resident memory of a `doorway serve` process, step by step, and of `doorway worker`.

Not run by CI. Every step runs in a fresh interpreter (`python -m bench.memory --child STEP`)
that does the steps it builds on, then itself, and reports VmRSS (and USS, the private pages,
from /proc/self/smaps_rollup), so imports never leak from one step into another. The database
is migrated and the NLU cache warmed in separate processes first: nothing is trained, and
scikit-learn must not be imported by any measured step (checked). Then `bench.load` runs with
`--outbox-worker` for the peak RSS of a real server and worker under load.

    python -m bench.memory [--skip-load] [--duration 10] [--concurrency 32]
    python -m bench.memory --database postgresql+psycopg://...   # and each PostgreSQL layout

Writes bench/results/memory.json (and memory-load.json from the load run); prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.services import Services

ROOT = Path(__file__).resolve().parent.parent
MARKER = "MEMORY-REPORT "
LOAD_OUT = "memory-load.json"
TARGET_MB = 200.0
#: Packages worth naming when a step brings them in.
WATCHED = (
    *("fastapi", "starlette", "uvicorn", "jinja2", "multipart", "pydantic", "httpx"),
    *("sqlalchemy", "psycopg", "alembic", "twilio", "requests", "aiohttp", "telegram"),
    *("cryptography", "babel", "phonenumbers", "textstat", "icalendar", "prometheus_client"),
    *("yaml", "argon2", "numpy", "scipy", "sklearn", "lingua"),
)


@dataclass
class Loaded:
    """What the steps of one child process have built so far."""

    services: Services | None = None

    def need_services(self) -> Services:
        assert self.services is not None, "this step builds on the services step"
        return self.services


@dataclass(frozen=True)
class Step:
    """One measurement: a fresh process does `base`'s chain of steps, then `load`."""

    key: str
    number: str
    label: str
    base: str | None
    load: Callable[[Loaded], None]
    sklearn_expected: bool = False

    @property
    def variant(self) -> bool:
        """A what-if ("v1"...): what a cut would save or an avoided import would cost."""
        return self.number.startswith("v")


# --- what each step loads (runs in the child) -------------------------------------------------


def import_all(*modules: str) -> None:
    """Import each module by name (what a step loads is a list of names)."""
    for module in modules:
        importlib.import_module(module)


def load_nothing(_loaded: Loaded) -> None:
    """The interpreter (and this script's few standard-library imports)."""


def load_web_stack(_loaded: Loaded) -> None:
    """FastAPI, Starlette, Jinja2 templates, forms, and uvicorn with the modules `uvicorn.run`
    picks: "auto" HTTP and websockets protocols, lifespan, and uvloop when it is installed."""
    import_all("fastapi", "fastapi.staticfiles", "fastapi.templating", "multipart")
    import_all("starlette.applications", "uvicorn.main", "uvicorn.lifespan.on")
    import_all("uvicorn.protocols.http.auto", "uvicorn.protocols.websockets.auto")
    with contextlib.suppress(ImportError):
        import_all("uvloop")


def load_sqlalchemy(_loaded: Loaded) -> None:
    """SQLAlchemy's ORM with the SQLite dialect, and Doorway's models (which bring cryptography)."""
    import_all("sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "bot.models")


def load_orm_sqlite(loaded: Loaded) -> None:
    """What a server on SQLite loads: `bot.db` imports Alembic, nothing imports psycopg."""
    load_sqlalchemy(loaded)
    import_all("alembic.command", "alembic.runtime.migration", "bot.db")


def load_orm(loaded: Loaded) -> None:
    """SQLAlchemy, Doorway's models, Alembic and psycopg (the PostgreSQL driver)."""
    load_orm_sqlite(loaded)
    import_all("psycopg")


def load_twilio(_loaded: Loaded) -> None:
    """What the SMS connector imports from the Twilio SDK."""
    import_all("twilio.rest", "twilio.request_validator", "twilio.twiml.messaging_response")
    import_all("twilio.base.exceptions", "twilio.http.http_client")


def load_telegram(_loaded: Loaded) -> None:
    """What the Telegram connector imports from python-telegram-bot."""
    import_all("telegram", "telegram.error", "telegram.warnings")


def load_sdks(loaded: Loaded) -> None:
    """Both provider SDKs."""
    load_twilio(loaded)
    load_telegram(loaded)


def load_doorway_modules(_loaded: Loaded) -> None:
    """Every module `bot.web.factory.app()` imports before it builds anything."""
    import_all("bot.web.factory", "bot.web.app", "bot.safety.crisis", "connectors.web_chat")
    import_all("connectors.telegram", "connectors.telegram_cli", "connectors.twilio_settings")
    import_all("connectors.twilio_sms")


def load_services(loaded: Loaded) -> None:
    """`build_services` from the environment, as the factory does: program, engine, vault,
    dialogues and catalogs (the interpreter stays lazy)."""
    from bot.web.factory import services_from_environment

    loaded.services = services_from_environment()


def load_app(loaded: Loaded) -> None:
    """The rest of `factory.app()` but the NLU warm-up: connectors, crisis lexicon, routes."""
    from bot.web.app import create_app
    from bot.web.factory import connectors_for

    services = loaded.need_services()
    chosen = connectors_for(services)
    services.connectors.update({c.name: c for c in chosen})
    services.detect_crisis("hello", services.program.default_language, None)
    create_app(services, chosen)


def sample_texts(language: str, count: int = 3) -> list[str]:
    """The longest training examples of one language: long enough for the detector."""
    from bot.nlu.training_data import load_nlu
    from bot.paths import dialogues_dir

    data = load_nlu(dialogues_dir() / "nlu" / f"{language}.yml")
    return sorted((text for text, _ in data.examples), key=len, reverse=True)[:count]


def detect_samples(candidates: Collection[str], languages: Collection[str]) -> None:
    """Detect sample texts of `languages` among `candidates`, so lingua loads its models."""
    from bot.language import detect_language

    for language in languages:
        for text in sample_texts(language):
            detect_language(text, candidates)


def load_detector(loaded: Loaded) -> None:
    """lingua as a first message uses it: among every known language (`language_choice`)."""
    from bot.language import table

    enabled = loaded.need_services().program.languages
    detect_samples({*table().known(), *enabled}, enabled)


def load_detector_two(_loaded: Loaded) -> None:
    """lingua restricted to a two-language program (en, es)."""
    detect_samples({"en", "es"}, ("en", "es"))


def check_from_cache(sources: dict[str, str]) -> None:
    """Stop when a model was trained here instead of loaded from the warmed cache."""
    trained = sorted(code for code, source in sources.items() if source != "cache")
    if trained:
        raise SystemExit(f"NLU models were trained in the measured process: {trained}")


def load_nlu_english(loaded: Loaded) -> None:
    """The built-in interpreter for English only, from the warmed cache."""
    from bot.nlu.classifier import BuiltinInterpreter

    services = loaded.need_services()
    interpreter = BuiltinInterpreter(
        ["en"], cache_dir=services.settings.data_dir / "nlu-cache", train_elsewhere=True
    )
    check_from_cache(interpreter.model_sources)
    interpreter.parse("I need help please", "en")


def load_nlu_all(loaded: Loaded) -> None:
    """`services.interpreter.warm()`, as the factory does: every language of the program."""
    from bot.nlu.classifier import BuiltinInterpreter
    from bot.services import LazyInterpreter

    services = loaded.need_services()
    assert isinstance(services.interpreter, LazyInterpreter)
    interpreter = services.interpreter.warm()
    assert isinstance(interpreter, BuiltinInterpreter)
    check_from_cache(interpreter.model_sources)
    for language in interpreter.languages:
        interpreter.parse(sample_texts(language, 1)[0], language)


def load_sklearn(_loaded: Loaded) -> None:
    """scikit-learn's logistic regression and SciPy, as training in-process would import."""
    import_all("scipy.sparse", "sklearn.linear_model")


def load_worker(_loaded: Loaded) -> None:
    """`doorway worker`: its services and channels, then one round on the empty outbox."""
    import asyncio

    from bot.outbox.cli import _services_with_channels
    from bot.outbox.settings import load_outbox_settings
    from bot.outbox.worker import run_once

    settings = load_outbox_settings()
    services = _services_with_channels()
    asyncio.run(run_once(services, settings=settings))


STEPS = (
    Step("interpreter", "1", "bare python interpreter", None, load_nothing),
    Step("web", "2", "+ web stack (fastapi, starlette, uvicorn)", "interpreter", load_web_stack),
    Step("orm", "3", "+ ORM and drivers (sqlalchemy, psycopg, models, alembic)", "web", load_orm),
    Step("sdks", "4", "+ provider SDKs (twilio, python-telegram-bot)", "orm", load_sdks),
    Step("doorway", "5", "+ Doorway modules of the app factory", "sdks", load_doorway_modules),
    Step("services", "6a", "+ services: dialogues, catalogs, engine", "doorway", load_services),
    Step("app", "6b", "+ app: connectors, crisis lexicon, routes", "services", load_app),
    Step("detector", "7", "+ language detector (lingua, all languages)", "app", load_detector),
    Step("nlu_en", "8a", "+ NLU models, en only (vs 7)", "detector", load_nlu_english),
    Step("nlu_all", "8b", "+ NLU models, all 11 languages (vs 7)", "detector", load_nlu_all),
    Step("worker", "9", "doorway worker process (vs 1)", "interpreter", load_worker),
    Step("sqlite_orm", "v1", "ORM as on SQLite: no psycopg (vs 2)", "web", load_orm_sqlite),
    Step("sqlalchemy", "v2", "ORM without alembic and psycopg (vs 2)", "web", load_sqlalchemy),
    Step("twilio", "v3", "Twilio SDK alone (vs 3)", "orm", load_twilio),
    Step("telegram", "v4", "python-telegram-bot alone (vs 3)", "orm", load_telegram),
    Step("detector_two", "v5", "detector, en+es only (vs 6b)", "app", load_detector_two),
    Step(
        "sklearn",
        "v6",
        "scikit-learn + SciPy, if trained here (vs 8b)",
        "nlu_all",
        load_sklearn,
        sklearn_expected=True,
    ),
)
BY_KEY = {step.key: step for step in STEPS}


def chain(key: str) -> list[Step]:
    """The steps a child runs for `key`, from the first one it builds on."""
    steps: list[Step] = []
    current: str | None = key
    while current is not None:
        steps.insert(0, BY_KEY[current])
        current = BY_KEY[current].base
    return steps


# --- measuring (in the child) -----------------------------------------------------------------


def proc_kb(path: str, names: Collection[str]) -> dict[str, int]:
    """`Name: <n> kB` lines of a /proc file, in kB (missing file or name: 0)."""
    found = dict.fromkeys(names, 0)
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        if name in found:
            found[name] = int(value.split()[0])
    return found


def snapshot() -> dict[str, Any]:
    """This process's memory now: RSS, USS (private pages), PSS, peak RSS, and what is loaded."""
    gc.collect()
    status = proc_kb("/proc/self/status", ("VmRSS", "VmHWM"))
    rollup = proc_kb("/proc/self/smaps_rollup", ("Pss", "Private_Clean", "Private_Dirty"))
    return {
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        "peak_rss_mb": round(status["VmHWM"] / 1024, 1),
        "uss_mb": round((rollup["Private_Clean"] + rollup["Private_Dirty"]) / 1024, 1),
        "pss_mb": round(rollup["Pss"] / 1024, 1),
        "modules": len(sys.modules),
        "packages": [name for name in WATCHED if name in sys.modules],
        "sklearn_imported": "sklearn" in sys.modules,
        "scipy_imported": "scipy" in sys.modules,
    }


def run_child(key: str) -> int:
    """Do the chain of steps for `key`, then print one marked JSON line."""
    loaded = Loaded()
    started = time.perf_counter()
    for step in chain(key):
        step.load(loaded)
    report = {**snapshot(), "seconds": round(time.perf_counter() - started, 2)}
    print(MARKER + json.dumps(report), flush=True)
    return 0


# --- the parent -------------------------------------------------------------------------------


def environment(data_dir: Path) -> dict[str, str]:
    """What `doorway serve` reads (bench.common), on a temporary SQLite data folder; Twilio on
    (pointed at a closed loopback port: nothing is sent), Telegram off, as in bench.load."""
    from bench.common import LOOPBACK, free_port, server_environment

    return server_environment(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'doorway.sqlite3'}",
        port=free_port(),
        provider=f"http://{LOOPBACK}:9",
        telegram=False,
    )


def prepare(env: dict[str, str]) -> list[str]:
    """Migrate the database and train every NLU model of the program into the cache, each in
    a process of its own; returns the program's languages."""
    from bot.config import Settings, load_program
    from bot.paths import dialogues_dir

    data_dir = Path(env["DOORWAY_DATA_DIR"])
    languages = list(load_program(Settings(data_dir=data_dir).program_path).languages)
    nlu_data, cache = str(dialogues_dir() / "nlu"), str(data_dir / "nlu-cache")
    warm = [sys.executable, "-m", "bot.nlu.warm", "--data-dir", nlu_data, "--cache-dir", cache]
    for command in ([sys.executable, "-m", "bot", "db", "upgrade"], [*warm, *languages]):
        subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    return languages


def measure(step: Step, env: dict[str, str]) -> dict[str, Any]:
    """Run one step in a fresh interpreter and return its report."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--child", step.key],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"step {step.key} failed:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    if (report["sklearn_imported"] or report["scipy_imported"]) and not step.sklearn_expected:
        raise SystemExit(f"step {step.key} imported scikit-learn or SciPy")
    return report


def with_deltas(reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per step: its figures, the difference from its base and the new packages."""
    rows = []
    for step in STEPS:
        report = reports[step.key]
        base: dict[str, Any] = {"rss_mb": 0.0, "uss_mb": 0.0, "packages": []}
        if step.base:
            base = reports[step.base]
        rows.append(
            {
                "step": step.number,
                "key": step.key,
                "label": step.label,
                "base": step.base,
                "variant": step.variant,
                **report,
                "delta_rss_mb": round(report["rss_mb"] - base["rss_mb"], 1),
                "delta_uss_mb": round(report["uss_mb"] - base["uss_mb"], 1),
                "new_packages": [p for p in report["packages"] if p not in base["packages"]],
            }
        )
    return rows


def idle_server(env: dict[str, str]) -> dict[str, Any]:
    """The server `bench.load` starts (`doorway serve`), idle after start: its RSS and USS,
    and which of the optional native libraries are mapped into it."""
    from bench.common import ServerProcess

    server = ServerProcess(env, int(env["DOORWAY_PUBLIC_URL"].rsplit(":", 1)[1]))
    server.start()
    try:
        time.sleep(1.0)
        assert server.process is not None
        proc = f"/proc/{server.process.pid}"
        status = proc_kb(f"{proc}/status", ("VmRSS",))
        rollup = proc_kb(f"{proc}/smaps_rollup", ("Private_Clean", "Private_Dirty"))
        maps = Path(f"{proc}/maps").read_text()
    finally:
        server.stop()
    return {
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        "uss_mb": round((rollup["Private_Clean"] + rollup["Private_Dirty"]) / 1024, 1),
        "mapped": {name: name in maps for name in ("psycopg", "lingua", "numpy", "sklearn")},
    }


def run_load(concurrency: int, duration: float, layout: Sequence[str]) -> dict[str, Any]:
    """`bench.load` closed loop in the layout given (its options): peak RSS of the server
    and, with `--outbox-worker`, of the worker, and the peak PSS of all the server forked."""
    command = [sys.executable, "-m", "bench.load", "--mode", "closed"]
    command += ["--concurrency", str(concurrency), "--duration", str(duration)]
    command += [*layout, "--out", LOAD_OUT]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    result: dict[str, Any] = {"command": " ".join(["python", *command[1:]])}
    if done.returncode != 0:
        return {**result, "error": (done.stderr or done.stdout)[-2000:]}
    from bench.common import RESULTS

    figures = json.loads((RESULTS / LOAD_OUT).read_text(encoding="utf-8"))
    peaks = figures.get("peak_rss_mb", {})
    notes = [line for line in done.stdout.splitlines() if line.startswith("note:")]
    keep = ("messages_per_second", "completed", "errors", "latency_ms", "provider_calls")
    result.update({name: figures.get(name) for name in keep})
    result["peak_rss_mb"] = peaks
    result["peak_pss_mb"] = figures.get("peak_pss_mb", {})
    if "--outbox-worker" in layout:
        result["worker_measured"] = bool(peaks.get("worker"))
        if not result["worker_measured"]:
            result["worker_problem"] = " ".join(notes) or "no RSS sampled: the worker had exited"
    return result


#: With --database (PostgreSQL), the layouts a server and its outbox worker can run in.
POSTGRES_LAYOUTS = {
    "one process, outbox inside": ["--workers", "1", "--outbox-inside"],
    "outbox worker forked beside the server": ["--workers", "1", "--outbox-workers", "1"],
    "separate `doorway worker`": ["--workers", "1", "--outbox-worker"],
}


def run_postgres_layouts(database: str, concurrency: int, duration: float) -> dict[str, Any]:
    """Each layout under the same load, with the total each takes (PSS: forked processes
    share pages, which summed RSS would count once per process) against the target."""
    results = {}
    for name, layout in POSTGRES_LAYOUTS.items():
        result = run_load(concurrency, duration, ["--database", database, *layout])
        total = result.get("peak_pss_mb", {}).get("total")
        results[name] = {**result, "within_target": total is not None and total <= TARGET_MB}
    return results


def print_rows(rows: list[dict[str, Any]]) -> None:
    header = f"{'#':>3}  {'step':<56} {'RSS MB':>7} {'delta':>7} {'USS MB':>7}  new packages"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['step']:>3}  {row['label']:<56} {row['rss_mb']:>7.1f} "
            f"{row['delta_rss_mb']:>+7.1f} {row['uss_mb']:>7.1f}  {' '.join(row['new_packages'])}"
        )


def print_report(report: dict[str, Any]) -> None:
    rows = report["steps"]
    print_rows([row for row in rows if not row["variant"]])
    print("\nwhat-ifs (each in its own process, delta against the step named):")
    print_rows([row for row in rows if row["variant"]])
    budget = report["budget"]
    print(
        f"\nserve process {budget['server_mb']} MB + worker {budget['worker_mb']} MB = "
        f"{budget['total_mb']} MB (target {TARGET_MB:g} MB); scikit-learn imported by a "
        f"measured step: {report['sklearn_imported_by_any_step']}"
    )
    idle = report["idle_server"]
    print(
        f"bench.load's server (doorway serve) idle after start: {idle['rss_mb']} MB RSS, "
        f"{idle['uss_mb']} MB USS; native libraries mapped: {idle['mapped']}"
    )
    load = report.get("load")
    if load:
        detail = load.get("error") or load.get("worker_problem") or ""
        print(f"under load ({load['command']}): peak RSS {load.get('peak_rss_mb')} {detail}")
    for name, result in report.get("postgres_layouts", {}).items():
        total = result.get("peak_pss_mb", {}).get("total")
        verdict = "within" if result["within_target"] else "over"
        print(
            f"PostgreSQL, {name}: peak PSS {total} MB ({verdict} {TARGET_MB:g} MB), "
            f"RSS {result.get('peak_rss_mb')}, {result.get('messages_per_second')} msg/s "
            f"{result.get('error') or ''}"
        )


def build_report(rows: list[dict[str, Any]], languages: list[str]) -> dict[str, Any]:
    by_key = {row["key"]: row for row in rows}
    server, worker = by_key["nlu_all"]["rss_mb"], by_key["worker"]["rss_mb"]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "python": sys.version.split()[0],
        "program_languages": languages,
        "steps": rows,
        "sklearn_imported_by_any_step": any(
            row["sklearn_imported"] for row in rows if row["key"] != "sklearn"
        ),
        "budget": {
            "server_mb": server,
            "worker_mb": worker,
            "total_mb": round(server + worker, 1),
            "target_mb": TARGET_MB,
            "met": server + worker <= TARGET_MB,
        },
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=list(BY_KEY), help=argparse.SUPPRESS)
    parser.add_argument("--skip-load", action="store_true", help="no bench.load run")
    parser.add_argument("--concurrency", type=int, default=32, help="bench.load people at once")
    parser.add_argument("--duration", type=float, default=10.0, help="bench.load seconds")
    parser.add_argument(
        "--database", help="a PostgreSQL URL: also measure each server + outbox layout on it"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return run_child(args.child)
    from bench.common import write_json

    with tempfile.TemporaryDirectory(prefix="doorway-bench-") as folder:
        env = environment(Path(folder))
        languages = prepare(env)
        reports = {step.key: measure(step, env) for step in STEPS}
        idle = idle_server(env)
    report = build_report(with_deltas(reports), languages)
    report["idle_server"] = idle
    if not args.skip_load:
        report["load"] = run_load(args.concurrency, args.duration, ["--outbox-worker"])
        if args.database:
            report["postgres_layouts"] = run_postgres_layouts(
                args.database, args.concurrency, args.duration
            )
    path = write_json("memory.json", report)
    print_report(report)
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
