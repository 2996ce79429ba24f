"""The reliability and security run (issue 8): `make stress` prints every figure.

Each part is a module with ``run(quick: bool) -> list[Figure]``; ``python -m stress``
runs them all (or the ones named on the command line) and exits non-zero when a figure
misses its target.
"""
