"""The reliability and security run (issue 8): `make stress` prints every figure.

Each part is a module with ``run(quick: bool) -> list[Figure]``; ``python -m stress``
runs them all (or the ones named on the command line) and exits non-zero when a figure
misses its target.
"""

import sys
from pathlib import Path

# The scenarios and their checks are shared with the tests, which import them by module
# name: tests/reliability/ holds the *_support modules, tests/ the repository builder and
# the server process they use (pytest puts both folders on sys.path for the tests).
_TESTS = Path(__file__).resolve().parent.parent / "tests"
for _folder in (_TESTS / "reliability", _TESTS):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
