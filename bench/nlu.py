"""Benchmark of the built-in NLU: training time and memory, parse latency per language.

Run from the repository root: `python bench/nlu.py`. Writes bench/results/nlu.json.
"""

from __future__ import annotations

import gc
import json
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.classifier import BuiltinInterpreter  # noqa: E402
from bot.nlu.training_data import load_nlu  # noqa: E402

PARSES = 10_000
LANGUAGES = ("en", "es")


def rss_mb() -> float:
    """Current resident set size (Linux /proc), falling back to the peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_language(language: str) -> dict[str, Any]:
    data_dir = ROOT / "dialogues" / "nlu"
    texts = [t for t, _ in load_nlu(ROOT / "tests" / "nlu_heldout" / f"{language}.yml").examples]
    gc.collect()
    rss_before = rss_mb()
    started = time.perf_counter()
    interpreter = BuiltinInterpreter([language], data_dir)
    train_s = time.perf_counter() - started
    gc.collect()
    rss_after = rss_mb()
    tracemalloc.start()  # a second, traced training run: tracemalloc itself inflates RSS
    BuiltinInterpreter([language], data_dir)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for text in texts[:200]:  # warm-up
        interpreter.parse(text, language)
    timings = []
    for i in range(PARSES):
        text = texts[i % len(texts)]
        t0 = time.perf_counter_ns()
        interpreter.parse(text, language)
        timings.append(time.perf_counter_ns() - t0)
    timings.sort()
    long_text = "i need help please " * 600
    t0 = time.perf_counter_ns()
    interpreter.parse(long_text, language)
    long_ms = (time.perf_counter_ns() - t0) / 1e6
    model = interpreter._models[language].model
    return {
        "examples": len(load_nlu(data_dir / f"{language}.yml").examples),
        "features": model.term_count,
        "train_seconds": round(train_s, 3),
        "train_peak_tracemalloc_mb": round(peak / 2**20, 1),
        "rss_delta_mb": round(rss_after - rss_before, 1),
        "model_weights_mb": round(
            (model.weights.nbytes + model.idf.nbytes + model.keys.nbytes) / 2**20, 2
        ),
        "parses": PARSES,
        "parse_median_ms": round(statistics.median(timings) / 1e6, 4),
        "parse_p99_ms": round(timings[int(len(timings) * 0.99) - 1] / 1e6, 4),
        "parse_max_ms": round(timings[-1] / 1e6, 3),
        "parse_10k_chars_ms": round(long_ms, 3),
    }


def main() -> int:
    started = time.perf_counter()
    rss_start = rss_mb()
    import scipy.sparse  # noqa: F401
    import sklearn.linear_model  # noqa: F401  (training imports it; measured apart)

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rss_at_start_mb": round(rss_start, 1),
        "rss_sklearn_scipy_import_mb": round(rss_mb() - rss_start, 1),
        "languages": {},
    }
    for language in LANGUAGES:
        results["languages"][language] = bench_language(language)
    results["rss_at_end_mb"] = round(rss_mb(), 1)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    out = ROOT / "bench" / "results" / "nlu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for language, r in results["languages"].items():
        print(
            f"{language}: train {r['train_seconds']}s (peak {r['train_peak_tracemalloc_mb']} MB"
            f" traced, RSS +{r['rss_delta_mb']} MB), {r['features']} features;"
            f" parse median {r['parse_median_ms']} ms, p99 {r['parse_p99_ms']} ms,"
            f" 10k chars {r['parse_10k_chars_ms']} ms"
        )
    print(f"RSS at end: {results['rss_at_end_mb']} MB; wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
