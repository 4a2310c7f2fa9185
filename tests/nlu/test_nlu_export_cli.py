"""`export_rasa` output and the `nlu` CLI commands, through a fresh argparse parser."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from bot.nlu.base import INTENTS
from bot.nlu.classifier import BuiltinInterpreter
from bot.nlu.cli import register
from bot.nlu.export_rasa import export_rasa
from bot.nlu.training_data import load_nlu

HELDOUT = Path(__file__).resolve().parents[1] / "nlu_heldout"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="doorway")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_export_rasa_writes_a_trainable_project(tmp_path: Path, nlu_data_dir: Path) -> None:
    (folder,) = export_rasa(tmp_path, ["es"], nlu_data_dir)
    config = yaml.safe_load((folder / "config.yml").read_text(encoding="utf-8"))
    domain = yaml.safe_load((folder / "domain.yml").read_text(encoding="utf-8"))
    nlu = yaml.safe_load((folder / "data" / "nlu.yml").read_text(encoding="utf-8"))
    assert config["language"] == "es"
    assert config["assistant_id"] == "doorway-es"
    names = [step["name"] for step in config["pipeline"]]
    assert names == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    ]
    assert config["pipeline"][4]["analyzer"] == "char_wb"
    assert config["pipeline"][5]["epochs"] == 100
    assert domain["version"] == "3.1"
    assert domain["intents"] == list(INTENTS)
    assert nlu["version"] == "3.1"
    assert {e["intent"] for e in nlu["nlu"] if "intent" in e} == set(INTENTS)
    assert load_nlu(folder / "data" / "nlu.yml").intents


def test_export_rasa_unknown_language(tmp_path: Path, nlu_data_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        export_rasa(tmp_path, ["xx"], nlu_data_dir)


def test_cli_parse_json(
    capsys: pytest.CaptureFixture[str], nlu_cache_dir: Path, nlu_interpreter: BuiltinInterpreter
) -> None:
    argv = ["nlu", "parse", "mi amigo no respira", "--language", "es", "--json"]
    assert run([*argv, "--cache-dir", str(nlu_cache_dir)]) == 0
    parse = json.loads(capsys.readouterr().out)
    assert parse["intent"] == "crisis_overdose"
    assert parse["ranking"][0][0] == "crisis_overdose"


def test_cli_parse_human(
    capsys: pytest.CaptureFixture[str], nlu_cache_dir: Path, nlu_interpreter: BuiltinInterpreter
) -> None:
    assert run(["nlu", "parse", "español", "--cache-dir", str(nlu_cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "intent: change_language" in out
    assert "entity: language=es" in out


def test_cli_evaluate(
    capsys: pytest.CaptureFixture[str], nlu_cache_dir: Path, nlu_interpreter: BuiltinInterpreter
) -> None:
    import bot.nlu.evaluate as evaluate_module

    pytest.importorskip("bot.safety.crisis")
    files = [str(HELDOUT / "en.yml"), str(HELDOUT / "es.yml")]
    assert run(["nlu", "evaluate", *files, "--json", "--cache-dir", str(nlu_cache_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["languages"]) == {"en", "es"}
    assert report["overall"]["accuracy"] >= 0.9
    assert evaluate_module is not None
    assert run(["nlu", "evaluate", *files, "--cache-dir", str(nlu_cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "crisis: recall" in out


def test_cli_evaluate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["nlu", "evaluate", str(tmp_path / "nope.yml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_export_rasa(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["nlu", "export-rasa", str(tmp_path), "--language", "en"]) == 0
    assert (tmp_path / "en" / "config.yml").is_file()
    assert not (tmp_path / "es").exists()
    assert run(["nlu", "export-rasa", str(tmp_path), "--language", "xx"]) == 2


def test_cli_nlu_without_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["nlu"]) == 2
