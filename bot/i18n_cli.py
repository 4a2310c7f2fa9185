"""The `doorway i18n extract|update|check` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.i18n_catalogs import (
    SOURCE_LANGUAGE,
    extract_template,
    msgids,
    read_template,
    update_catalogs,
    write_template,
)
from bot.i18n_check import check_all
from bot.paths import locales_dir

TEMPLATE_NAME = "messages.pot"


def _folder(args: argparse.Namespace) -> Path:
    return Path(args.locales) if args.locales else locales_dir()


def _program_languages() -> list[str]:
    """The enabled languages of the configured program (DOORWAY_PROGRAM or the demo)."""
    from bot.config import load_program, load_settings

    return list(load_program(load_settings().program_path).languages)


def cmd_extract(args: argparse.Namespace) -> int:
    folder = _folder(args)
    catalog = extract_template()
    changed = write_template(catalog, folder / TEMPLATE_NAME)
    state = "written" if changed else "unchanged"
    print(f"{folder / TEMPLATE_NAME}: {len(msgids(catalog))} messages ({state})")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    folder = _folder(args)
    template_path = folder / TEMPLATE_NAME
    if not template_path.is_file():
        print(f"{template_path}: missing; run `doorway i18n extract` first")
        return 1
    create = args.language or _program_languages()
    for result in update_catalogs(folder, read_template(template_path), create=create):
        verb = "created" if result.created else "updated"
        print(f"{result.language}: {verb} ({result.messages} messages)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    folder = _folder(args)
    template_path = folder / TEMPLATE_NAME
    if not template_path.is_file():
        print(f"{template_path}: missing; run `doorway i18n extract`")
        return 1
    template = read_template(template_path)
    failed = False
    if not args.skip_source:
        stale = msgids(extract_template()) ^ msgids(template)
        if stale:
            failed = True
            print(f"{template_path}: out of date ({len(stale)} messages differ); run extract")
    reports = check_all(folder, template, args.language)
    for report in reports:
        for problem in report.problems:
            print(problem)
    if failed or any(r.problems for r in reports):
        return 1
    for report in reports:
        print(f"OK {report.language}: {report.translated}/{report.total} translated")
    print(f"OK {SOURCE_LANGUAGE}: source language ({len(msgids(template))} messages)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `i18n extract|update|check` to the top-level `doorway` parser."""
    i18n = subparsers.add_parser("i18n", help="translation catalogs")
    commands = i18n.add_subparsers(dest="i18n_command", required=True, metavar="COMMAND")

    def _common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--locales", help="the locales folder (default: the shipped one)")

    extract = commands.add_parser("extract", help="write locales/messages.pot from the sources")
    _common(extract)
    extract.set_defaults(func=cmd_extract)

    update = commands.add_parser("update", help="merge messages.pot into every catalog")
    _common(update)
    update.add_argument(
        "--language",
        action="append",
        help="create this language's catalog if missing (repeatable; default: program languages)",
    )
    update.set_defaults(func=cmd_update)

    check = commands.add_parser("check", help="fail on missing, fuzzy or broken translations")
    _common(check)
    check.add_argument("--language", action="append", help="check only this language")
    check.add_argument(
        "--skip-source",
        action="store_true",
        help="do not re-extract to see whether messages.pot is out of date",
    )
    check.set_defaults(func=cmd_check)
