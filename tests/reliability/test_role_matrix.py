"""The full role matrix of SPEC section 6: every caller kind x every endpoint.

The expected outcomes are the hand-written table in ``security_support``; a new
endpoint without a row there (or a row for an endpoint that is gone) fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from security_support import CALLERS, ENDPOINTS, parse_table, run_matrix


def test_every_cell_of_the_role_matrix(tmp_path: Path) -> None:
    cells, gaps = run_matrix(tmp_path)
    assert not gaps, "\n".join(gaps)
    assert len(cells) == len(ENDPOINTS) * len(CALLERS) == 16 * 11
    wrong = [cell.line() for cell in cells if not cell.ok]
    assert not wrong, f"{len(wrong)} of {len(cells)} cells wrong:\n" + "\n".join(wrong)


def test_the_table_is_complete_and_well_formed() -> None:
    keys = [e.key for e in ENDPOINTS]
    assert len(keys) == len(set(keys)), "an endpoint has two rows"
    allowed = {"200", "201", "202", "204", "401", "403", "403c", "404"}
    for endpoint in ENDPOINTS:
        assert set(endpoint.expected.values()) <= allowed, endpoint
        # Spec: every write needs CSRF when carried by a session; reads never do.
        assert endpoint.csrf == (endpoint.expected["badcsrf"] == "403c"), endpoint
    with pytest.raises(ValueError, match="2 cells for 11 callers"):
        parse_table("GET /x viewer - 200 200")
