"""The privacy commands: `keys rotate`, `purge [--dry-run]` and `contacts erase ID`.

They print counts and ids only, never an address, a name or a message.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.db import upgrade
from bot.keys import with_local_keys
from bot.services import Services, build_services, system_clock, vault_from_settings

if TYPE_CHECKING:  # argparse's action class is generic only for type checkers
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _settings() -> Settings:
    settings = load_settings()
    if settings.is_sqlite:
        settings, _note = with_local_keys(settings)
    return settings


def _services() -> Services:
    """Services on a migrated database (the interpreter is lazy: no model is trained)."""
    services = build_services(_settings())
    upgrade(services.engine)
    return services


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from bot.db import make_engine
    from bot.rotation import rotate

    settings = _settings()
    vault = vault_from_settings(settings)
    engine = make_engine(settings.resolved_database_url, vault, pool_size=1)
    try:
        report = rotate(engine, vault, batch_size=args.batch_size, max_batches=args.max_batches)
    finally:
        engine.dispose()
    for line in report.lines():
        print(line)
    return 0 if report.complete else 3


def cmd_purge(args: argparse.Namespace) -> int:
    from bot.retention import purge

    services = _services()
    try:
        report = purge(services, services.clock(), dry_run=args.dry_run)
    finally:
        services.close()
    for line in report.lines():
        print(line)
    return 0


def cmd_contacts_erase(args: argparse.Namespace) -> int:
    from bot.erase import UnknownContact, erase_contact

    services = _services()
    try:
        report = erase_contact(services, args.contact_id, system_clock())
    except UnknownContact:
        raise ConfigError(f"contacts erase: no contact with id {args.contact_id}") from None
    finally:
        services.close()
    for line in report.lines():
        print(line)
    return 0


def _group(sub: Subparsers, name: str, help_text: str) -> Subparsers:
    """The sub-commands of `name`, reusing the group if another component made it first."""
    parser = sub.choices.get(name) or sub.add_parser(name, help=help_text)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=name, required=True)


def register(sub: Subparsers) -> None:
    rotate = _group(sub, "keys", "encryption keys").add_parser(
        "rotate", help="re-encrypt all personal data under the first key (resumable)"
    )
    rotate.add_argument("--batch-size", type=int, default=500, help="rows per committed batch")
    rotate.add_argument(
        "--max-batches", type=int, default=None, help="stop after this many batches (run again)"
    )
    rotate.set_defaults(func=cmd_keys_rotate)

    purge = sub.add_parser("purge", help="remove free text and consent records past retention")
    purge.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    purge.set_defaults(func=cmd_purge)

    erase = _group(sub, "contacts", "contact tools").add_parser(
        "erase", help="remove one person's personal data (keeps de-identified events)"
    )
    erase.add_argument("contact_id", type=int, metavar="ID")
    erase.set_defaults(func=cmd_contacts_erase)
