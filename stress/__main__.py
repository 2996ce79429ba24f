"""Run every stress part and print its figures: ``python -m stress [--quick] [part ...]``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.figures import Figure

PARTS = ("fuzz", "crash", "concurrency", "outage", "security")


def run_part(name: str, quick: bool) -> list[Figure]:
    module = importlib.import_module(f"stress.{name}")
    started = time.perf_counter()
    figures: list[Figure] = module.run(quick)
    print(f"-- {name}: {len(figures)} figures in {time.perf_counter() - started:.1f} s",
          flush=True)
    for figure in figures:
        print(figure.line(), flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m stress")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("parts", nargs="*", metavar="part", help=f"any of {', '.join(PARTS)}")
    args = parser.parse_args()
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    figures = [figure for name in args.parts or PARTS for figure in run_part(name, args.quick)]
    missed = [figure for figure in figures if not figure.met]
    print(f"\n{len(figures) - len(missed)} of {len(figures)} figures met their targets")
    for figure in missed:
        print(figure.line())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
