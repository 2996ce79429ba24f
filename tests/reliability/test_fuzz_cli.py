"""Hostile CLI arguments and repositories: every run ends with a message and exit code
0, 1 or 2, never a traceback (click's runner for volume, real processes for the end)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from fuzz_support import (
    PATH_TRICKS,
    TRACEBACK,
    UNICODE_ODDITIES,
    alias_bomb,
    argvs,
    cli_repo,
    config_files,
    invoke,
    run_process,
    schedule_files,
    write_repo,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cli_repo(tmp_path_factory.mktemp("cli") / "repo")


@SETTINGS
@given(argv=argvs())
def test_cli_arguments_never_raise(repo: Path, argv: list[str]) -> None:
    result = invoke(["--repo", str(repo), *argv], cwd=repo)
    if "apply" in argv[:1] and result.exit_code == 0:
        pytest.fail(f"apply without --auto-approve or a valid plan succeeded: {argv}")


@pytest.mark.parametrize("repo_arg", [*PATH_TRICKS, *UNICODE_ODDITIES, "/dev/null", "/proc"])
def test_odd_repo_paths_are_clear_errors(tmp_path: Path, repo_arg: str) -> None:
    result = invoke(["--repo", repo_arg, "validate"], cwd=tmp_path)
    assert result.exit_code in (1, 2)
    assert "Error" in result.output


def test_nul_bytes_in_arguments_are_usage_errors(repo: Path) -> None:
    result = invoke(["--repo", str(repo), "plan", "--out", "a\x00b"])
    assert result.exit_code == 2
    assert "contains a NUL byte" in result.output


def test_unwritable_output_is_a_clear_error(repo: Path) -> None:
    result = invoke(["--repo", str(repo), "plan", "--out", str(repo / "no/such/dir/plan.json")])
    assert result.exit_code == 1
    assert "No such file or directory" in result.output


@SETTINGS
@given(content=schedule_files(), fmt=st.sampled_from(["text", "json", "github"]))
def test_validate_any_schedule_file(tmp_path_factory: pytest.TempPathFactory, content: bytes,
                                    fmt: str) -> None:
    root = _scratch_repo(tmp_path_factory, {"schedules/acme/jobs.yaml": content})
    result = invoke(["--repo", str(root), "validate", "--format", fmt])
    _check_validate_output(result.exit_code, result.output, fmt)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=config_files(), command=st.sampled_from([["validate"], ["plan"],
                                                         ["import", "--project", "acme",
                                                          "--scheduler", "aps", "--dry-run"]]))
def test_any_config_with_any_command(tmp_path_factory: pytest.TempPathFactory, content: bytes,
                                     command: list[str]) -> None:
    root = _scratch_repo(tmp_path_factory, {"schedsync.yaml": content})
    result = invoke(["--repo", str(root), *command])
    if result.exit_code == 1:
        assert "Error" in result.output or "error" in result.output


def _scratch_repo(factory: pytest.TempPathFactory, files: dict[str, bytes]) -> Path:
    root = factory.getbasetemp() / "scratch"
    shutil.rmtree(root, ignore_errors=True)
    return write_repo(root, files, commit=False)


def _check_validate_output(code: int, output: str, fmt: str) -> None:
    assert code in (0, 1), output
    if fmt == "json":
        report = json.loads(output)
        assert (code == 1) == any(d["severity"] == "error" for d in report["diagnostics"])
    elif fmt == "github" and code == 1:
        assert "::error file=schedules/" in output or "::error file=schedsync.yaml" in output


# --- real processes: the installed entry point, its exit codes and its memory ------------


MEASURED = (
    "import resource, sys\n"
    "from schedsync.cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "finally:\n"
    "    print(f'maxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', "
    "file=sys.stderr)\n"
)


def test_alias_bomb_through_the_real_cli_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    import subprocess
    import time

    root = write_repo(tmp_path / "repo", {"schedules/acme/bomb.yaml": alias_bomb(12, 10)})
    baseline = _measured_rss(root, ["schema"])
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, "--repo", str(root), "validate",
                           "--no-cache"], capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode == 1, done.stderr
    assert "anchors and aliases expand the document" in done.stdout
    assert TRACEBACK not in done.stdout + done.stderr
    rss_kib = int(done.stderr.rsplit("maxrss_kib=", 1)[1])
    # 10**12 strings would need terabytes; refusing costs what validating anything costs.
    assert rss_kib < baseline + 64 * 1024, (rss_kib, baseline)
    assert elapsed < 10, elapsed


def _measured_rss(root: Path, args: list[str]) -> int:
    import subprocess

    done = subprocess.run([sys.executable, "-c", MEASURED, "--repo", str(root), *args],
                          capture_output=True, text=True, timeout=60, check=False)
    return int(done.stderr.rsplit("maxrss_kib=", 1)[1])


@pytest.mark.parametrize(("files", "args", "code", "says"), [
    ({"schedules/acme/bad.yaml": b"schedules:\n- name: \xff\n"}, ["validate", "--format",
                                                                   "github"], 1,
     "::error file=schedules/acme/bad.yaml,line=2"),
    ({"schedules/acme/big.yaml": b"schedules:\n- priority: " + b"9" * 5000 + b"\n"},
     ["validate"], 1, "does not fit in 64 bits"),
    ({"schedsync.yaml": b"version: 1\nprojects:\n  ../x: {}\n"}, ["plan"], 1, "projects"),
    ({}, ["plan", "--out", "/proc/self/nope/plan.json"], 1, "No such file or directory"),
    ({}, ["diff", "--base", "--upload-pack=touch pwned"], 1, "is not a git ref"),
    ({}, ["--bogus"], 2, "No such option"),
])
def test_real_processes_end_with_a_message(tmp_path: Path, files: dict[str, bytes],
                                           args: list[str], code: int, says: str) -> None:
    root = write_repo(tmp_path / "repo", files)
    done = run_process(["--repo", str(root), *args], cwd=root)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert says in done.stdout + done.stderr
    assert TRACEBACK not in done.stdout + done.stderr
    assert not (root / "pwned").exists()


def test_github_annotations_cannot_be_injected(tmp_path: Path) -> None:
    """A file name or value with a newline must not start a workflow command of its own."""
    hostile = {"schedules/acme/a\n::add-mask::x,y%.yaml":
               b'schedules:\n- name: "x\\n::set-output name=a::b"\n  tigger: 1\n'}
    root = write_repo(tmp_path / "repo", hostile, commit=False)
    result = invoke(["--repo", str(root), "validate", "--format", "github"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1].startswith("invalid: ")
    assert all(line.startswith("::error file=") for line in lines[:-1]), lines
    assert len(lines) == 6


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
                                 "9999-12-31T00:00:00Z"])
def test_diff_refuses_moments_at_the_edge_of_time(repo: Path, now: str) -> None:
    # Found by `python -m stress fuzz`: fire times past year 9999 overflowed (exit 3).
    result = invoke(["--repo", str(repo), "diff", "--base", "HEAD", "--now", now])
    assert result.exit_code == 2
    assert "is not between the years 1970 and 9000" in result.output
