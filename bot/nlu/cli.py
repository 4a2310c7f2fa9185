"""The `doorway nlu` command: parse a message, evaluate on labelled files, export to Rasa."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from bot.nlu.base import Interpreter


def _data_dir() -> Path:
    from bot.paths import dialogues_dir

    return dialogues_dir() / "nlu"


def _enabled_languages() -> list[str]:
    """By default every language with a training file is enabled."""
    from bot.nlu.training_data import available_languages

    return available_languages(_data_dir()) or ["en"]


def _interpreter(args: argparse.Namespace, languages: list[str]) -> Interpreter:
    from bot.nlu import build_interpreter

    return build_interpreter(
        languages,
        rasa_url=getattr(args, "rasa_url", None),
        rasa_token=getattr(args, "rasa_token", None),
        cache_dir=getattr(args, "cache_dir", None),
    )


def _cmd_parse(args: argparse.Namespace) -> int:
    languages = _enabled_languages()
    language = args.language or languages[0]
    parse = _interpreter(args, languages).parse(args.text, language)
    if args.json:
        print(json.dumps(dataclasses.asdict(parse), ensure_ascii=False))
        return 0
    print(f"intent: {parse.intent} ({parse.confidence:.2f})")
    for name, score in parse.ranking[1:4]:
        print(f"  also: {name} ({score:.2f})")
    for entity in parse.entities:
        print(f"  entity: {entity.entity}={entity.value} [{entity.start}:{entity.end}]")
    return 0


def _print_report(report: dict[str, Any]) -> None:
    print(f"{'language':<10}{'examples':>10}{'accuracy':>10}{'macro-F1':>10}")
    rows = [*report["languages"].items(), ("overall", report["overall"])]
    for name, scores in rows:
        print(
            f"{name:<10}{scores['examples']:>10}"
            f"{scores['accuracy']:>10.3f}{scores['macro_f1']:>10.3f}"
        )
    for name, scores in report["languages"].items():
        if scores["confused"]:
            print(f"\nmost confused ({name}), gold -> predicted:")
            for gold, predicted, count in scores["confused"][:8]:
                print(f"  {gold} -> {predicted}: {count}")
    crisis = report["crisis"]
    print(
        f"\ncrisis: recall {crisis['recall']:.3f} ({crisis['positives']} crises), "
        f"false-positive rate {crisis['false_positive_rate']:.3f} ({crisis['negatives']} others)"
    )
    for text in crisis["missed"]:
        print(f"  missed: {text}")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bot.nlu.evaluate import evaluate

    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    languages = _enabled_languages()
    if args.language and args.language not in languages:
        languages = [args.language, *languages]
    report = evaluate(files, _interpreter(args, languages), language_override=args.language)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)
    return 0


def _cmd_export_rasa(args: argparse.Namespace) -> int:
    from bot.nlu.export_rasa import export_rasa

    languages = args.language or _enabled_languages()
    try:
        folders = export_rasa(Path(args.dir), languages, _data_dir())
    except (FileNotFoundError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for folder in folders:
        print(f"wrote {folder} (train with: rasa train nlu --config {folder}/config.yml ...)")
    return 0


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rasa-url", help="use this Rasa server first (built-in as fallback)")
    parser.add_argument("--rasa-token", help="the Rasa server's auth token")
    parser.add_argument("--cache-dir", type=Path, help="reuse trained models from here")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `nlu parse|evaluate|export-rasa` to the top-level `doorway` parser."""
    nlu = subparsers.add_parser("nlu", help="intent interpreter tools")
    commands = nlu.add_subparsers(dest="nlu_command", metavar="COMMAND")

    def _usage(args: argparse.Namespace) -> int:
        nlu.print_help()
        return 2

    nlu.set_defaults(func=_usage)

    parse = commands.add_parser("parse", help="show the intent of one message")
    parse.add_argument("text")
    parse.add_argument("--language", help="language code (default: first with data)")
    parse.add_argument("--json", action="store_true", help="print one JSON object")
    _add_backend_options(parse)
    parse.set_defaults(func=_cmd_parse)

    evaluate = commands.add_parser("evaluate", help="score on labelled Rasa NLU files")
    evaluate.add_argument("files", nargs="+", metavar="FILE.yml")
    evaluate.add_argument("--language", help="language of every file (default: file name)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _add_backend_options(evaluate)
    evaluate.set_defaults(func=_cmd_evaluate)

    export = commands.add_parser("export-rasa", help="write Rasa 3 projects per language")
    export.add_argument("dir")
    export.add_argument(
        "--language", action="append", help="language to export (repeatable; default: all)"
    )
    export.set_defaults(func=_cmd_export_rasa)
