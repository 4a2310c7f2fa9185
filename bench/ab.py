"""Two builds under the same load, in turn: the way to compare them on a shared machine.

    python -m bench.ab --base 5bcc9cd --pairs 3 -- --mode open --rate 200 --duration 20

On this kind of machine the same build gives 144 msg/s one minute and 218 the next (the
host's other tenants change the CPU's speed), so a figure taken for one build and compared
with yesterday's says nothing. This runs `bench.load` for the base commit and for this
checkout alternately, each from its own tree (a worktree of the base in a temporary folder),
with a CPU speed probe before each pair, and prints every pair side by side.

Each run starts from its own tree's folder because that is what decides the code measured:
`python -m` puts the working folder first on the module path, ahead of PYTHONPATH, and
`bench.load` starts the server in its own tree. Pointing PYTHONPATH at an old worktree
while running from this one measures this build twice.

Writes bench/results/ab.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, speed_probe, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base", required=True, help="the commit to compare this checkout with")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("load", nargs=argparse.REMAINDER, help="-- then bench.load's options")
    args = parser.parse_args()
    load_args = args.load[1:] if args.load[:1] == ["--"] else args.load
    with tempfile.TemporaryDirectory(prefix="doorway-ab-") as folder:
        base_tree = Path(folder) / "base"
        git("worktree", "add", "--detach", str(base_tree), args.base)
        try:
            pairs = [run_pair(base_tree, load_args) for _ in range(args.pairs)]
        finally:
            git("worktree", "remove", "--force", str(base_tree))
    result = {
        "benchmark": "bench.load, two builds in turn",
        "base": args.base,
        "this": git("rev-parse", "--short", "HEAD").strip(),
        "load": load_args,
        "pairs": pairs,
        "medians": {side: medians([pair[side] for pair in pairs]) for side in ("base", "this")},
    }
    path = write_json("ab.json", result)
    print_pairs(result)
    print(f"-> {path}")


def git(*command: str) -> str:
    done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout


def run_pair(base_tree: Path, load_args: list[str]) -> dict[str, Any]:
    return {
        "probe_us": round(speed_probe(), 1),
        "base": run_load(base_tree, load_args),
        "this": run_load(ROOT, load_args),
    }


def run_load(tree: Path, load_args: list[str]) -> dict[str, Any]:
    """One bench.load run from `tree`'s own folder; its summary, or the failure."""
    out = "ab-run.json"
    command = [sys.executable, "-m", "bench.load", *load_args, "--out", out]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"failed": done.stderr[-500:]}
    summary: dict[str, Any] = json.loads((tree / "bench" / "results" / out).read_text())
    return {
        "messages_per_second": summary["messages_per_second"],
        "p50_ms": summary["latency_ms"]["median"],
        "p99_ms": summary["latency_ms"]["p99"],
        "errors": summary["errors"],
        "server_cpu_ms_per_message": summary.get("server_cpu_ms_per_message"),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("messages_per_second", "p50_ms", "p99_ms", "server_cpu_ms_per_message")
    done = [run for run in runs if "failed" not in run]
    return {
        key: statistics.median(run[key] for run in done)
        for key in keys
        if done and all(run.get(key) is not None for run in done)
    }


def describe(run: dict[str, Any]) -> str:
    if "failed" in run:
        return "failed"
    errors = sum(run["errors"].values()) if run["errors"] else 0
    return (
        f"{run['messages_per_second']:7.1f} msg/s  p50 {run['p50_ms']:7.1f}  "
        f"p99 {run['p99_ms']:7.1f} ms  cpu {run['server_cpu_ms_per_message']} ms/msg"
        + (f"  {errors} errors" if errors else "")
    )


def print_pairs(result: dict[str, Any]) -> None:
    print(f"base {result['base']} / this {result['this']}: bench.load {' '.join(result['load'])}")
    for number, pair in enumerate(result["pairs"], start=1):
        print(f"pair {number} (probe {pair['probe_us']} us)")
        print(f"  base  {describe(pair['base'])}")
        print(f"  this  {describe(pair['this'])}")


if __name__ == "__main__":
    main()
