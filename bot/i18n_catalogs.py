"""Build the message template and keep every language's catalog in step with it (Babel API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN

#: The repository root: extraction is a developer task run from a checkout.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
SOURCE_LANGUAGE = "en"
PROJECT = "Doorway"
WIDTH = 100


def extract_template(root: Path = SOURCE_ROOT, config: Path | None = None) -> Catalog:
    """Every msgid in the code, dialogues and templates, as mapped by `babel.cfg`."""
    config = config or root / "babel.cfg"
    with config.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(config))  # type: ignore[no-untyped-call]
    catalog = Catalog(
        project=PROJECT, version=_version(), domain=DOMAIN, charset="utf-8", fuzzy=False
    )
    # Keywords come from babel.cfg per file type, so none are global (not even `_`).
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords={}, comment_tags=(), strip_comment_tags=True
    ):
        catalog.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def _version() -> str:
    try:
        return metadata.version("doorway")
    except metadata.PackageNotFoundError:
        return "dev"


def msgids(catalog: Catalog) -> set[str]:
    """The singular msgids of a catalog, without the header entry."""
    return {_msgid(m.id) for m in catalog if m.id}


def _msgid(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def write_template(catalog: Catalog, path: Path) -> bool:
    """Write the template unless only its dates would change; True when the file changed."""
    if path.is_file():
        with path.open("rb") as handle:
            old = read_po(handle)
        if _entries(old) == _entries(catalog):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=WIDTH, sort_by_file=True)
    return True


def _entries(catalog: Catalog) -> list[tuple[object, ...]]:
    return sorted(
        (repr(m.id), sorted(m.locations), sorted(m.auto_comments), m.context or "")
        for m in catalog
        if m.id
    )


def read_template(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, domain=DOMAIN)


def catalog_path(folder: Path, language: str) -> Path:
    return folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog_languages(folder: Path) -> list[str]:
    """Languages that have a catalog on disk."""
    return sorted(p.parent.parent.name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


@dataclass(frozen=True)
class Updated:
    """What `update` did to one language's catalog."""

    language: str
    created: bool
    messages: int


def update_catalogs(folder: Path, template: Catalog, create: Iterable[str] = ()) -> list[Updated]:
    """Merge the template into every catalog; create catalogs for `create` that lack one.

    No fuzzy matching: a changed English text becomes a new, untranslated entry instead of a
    guessed one that would reach people unreviewed. Obsolete entries are dropped (git keeps them).
    """
    now = dt.datetime.now(dt.UTC)
    results = []
    wanted = set(catalog_languages(folder)) | {c for c in create if c != SOURCE_LANGUAGE}
    for language in sorted(wanted):
        path = catalog_path(folder, language)
        created = not path.is_file()
        if created:
            catalog = Catalog(
                locale=Locale.parse(language),
                domain=DOMAIN,
                project=PROJECT,
                version=template.version,
                charset="utf-8",
                creation_date=template.creation_date,
                revision_date=now,
                fuzzy=False,
            )
        else:
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=WIDTH, sort_by_file=True, ignore_obsolete=True)
        results.append(Updated(language, created, len(msgids(catalog))))
    return results
