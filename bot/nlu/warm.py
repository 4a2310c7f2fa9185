"""`python -m bot.nlu.warm`: train NLU models into the cache in a process of their own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("languages", nargs="+")
    args = parser.parse_args(argv)
    from bot.nlu.classifier import BuiltinInterpreter

    BuiltinInterpreter(args.languages, Path(args.data_dir), cache_dir=Path(args.cache_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
