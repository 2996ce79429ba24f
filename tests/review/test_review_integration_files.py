"""The shipped pre-commit hook and GitHub workflow say what the review code does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from schedsync.engine.review.render_markdown import MARKER

ROOT = Path(__file__).resolve().parents[2]


def _load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def test_pre_commit_hook_runs_validate_on_schedule_files_only() -> None:
    (hook,) = _load(".pre-commit-hooks.yaml")

    assert hook["id"] == "schedsync-validate"
    assert hook["entry"] == "schedsync validate"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("schedsync.yaml", "schedules/acme/email.yaml", "schedules/acme/billing.yml"):
        assert files.search(path), path
    for path in ("README.md", "docs/schedsync.yaml", "schedules/acme/notes.txt"):
        assert not files.search(path), path


def test_workflow_validates_reviews_and_keeps_one_comment_per_pull_request() -> None:
    workflow = _load("examples/ci/github-actions.yml")
    steps = workflow["jobs"]["review"]["steps"]
    runs = [step.get("run", "") for step in steps]

    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"]["pull-requests"] == "write"
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    assert any(s.get("uses", "").startswith("actions/setup-python") for s in steps)
    assert "pip install schedsync" in runs
    assert "schedsync validate --format github" in runs
    assert 'schedsync diff --base "origin/$BASE_REF" --format markdown > diff.md' in runs
    assert workflow["jobs"]["review"]["env"]["BASE_REF"] == "${{ github.base_ref }}"
    script = next(s for s in steps if "github-script" in s.get("uses", ""))["with"]["script"]
    assert f'const marker = "{MARKER}";' in script
    assert "updateComment" in script
    assert "createComment" in script
