"""Crisis-detector latency: median and p99 over the labelled cases, in every language.

Not run by CI (timings on a shared machine are noise there). Writes bench/results/safety.json.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import yaml

from bot.safety.crisis import default_detector

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "safety" / "crisis_cases.yaml"
OUT = ROOT / "bench" / "results" / "safety.json"


def texts() -> list[tuple[str, str]]:
    data = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []

    def walk(node: object, language: str = "en") -> None:
        if isinstance(node, dict):
            lang = str(node.get("language", language))
            if isinstance(node.get("text"), str):
                found.append((lang, node["text"]))
            for value in node.values():
                walk(value, lang)
        elif isinstance(node, list):
            for item in node:
                walk(item, language)
        elif isinstance(node, str) and language:
            found.append((language, node))

    walk(data)
    return found


def main(rounds: int = 20) -> dict[str, float]:
    detector = default_detector()
    cases = texts()
    for language, text in cases:
        detector.detect(text, language)
    timings = []
    for _ in range(rounds):
        for language, text in cases:
            start = time.perf_counter()
            detector.detect(text, language)
            timings.append(time.perf_counter() - start)
    timings.sort()
    result = {
        "calls": len(timings),
        "median_us": round(statistics.median(timings) * 1e6, 1),
        "p99_us": round(timings[int(len(timings) * 0.99)] * 1e6, 1),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(
        f"crisis detector: median {result['median_us']} us, p99 {result['p99_us']} us "
        f"over {result['calls']} calls"
    )
    return result


if __name__ == "__main__":
    main()
