"""Shared pieces of the fuzzing tests and of ``stress/fuzz.py``.

Strategies that produce hostile schedule files, ``schedsync.yaml`` files and CLI
arguments; the checks every answer must pass (a diagnostic says where, what and how
to fix; a CLI run ends with a message and exit code, never a traceback); a real git
repository to run against and a real ``schedsync serve`` process.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from click.testing import CliRunner, Result
from hypothesis import strategies as st

from repo_builder import acme_config, build_repo
from schedsync.cli.main import cli
from schedsync.engine.diagnostics import Diagnostic
from schedsync.engine.loader import load_document
from schedsync.engine.validate import check_config, check_schedule_file
from server_process import ServerProcess

TRACEBACK = "Traceback (most recent call last)"
CONFIG = acme_config(min_interval="5m")
GOOD = textwrap.dedent("""\
    # Email jobs
    schedules:
      - name: email.digest
        scheduler: aps
        trigger_type: cron
        trigger: {minute: "0", hour: "9", day_of_week: "1"}
        task: jobs.send_digest
        kwargs: {locale: en-US}
      - name: email.ping
        scheduler: aps
        trigger_type: interval
        trigger: {every: 5, period: minutes}
        task: jobs.heartbeat
    """)

# --- hostile values ---------------------------------------------------------------

PATH_TRICKS = ["../x", "../../etc/passwd", "/etc/passwd", "a/../../b", "a\x00b", "..", ".",
               "", " ", "~root", "C:\\x", "\\\\server\\share", "%2e%2e%2f", "a/b/c", ".git/x",
               "x.yaml\x00.txt", "\u202eevil", "con", "x" * 300]
UNICODE_ODDITIES = ["\ufeff", "\u200b", "\u200d", "\u202e", "\u0301", "e\u0301", "\uffff",
                    "\U0001f600", "\u2028", "\u2029", "\x85", "\u00a0", "\t", "\r", "\r\n",
                    "\uff4e\uff41\uff4d\uff45", "İ", "ß", "\x7f", "\x1b[31m"]
YAML_SCALARS = ["9" * 30, "-" + "9" * 25, "0x" + "f" * 40, "0o" + "7" * 40, "0b" + "1" * 80,
                "1_000_000", "1:2:3:4:5", ".nan", ".inf", "-.inf", ".NaN", "1e400", "-1e400",
                "0", "-0", "2**64", "18446744073709551616", "9223372036854775808",
                "~", "null", "yes", "no", "on", "off", "2026-13-45", "2001-12-14t21:59:43.10-05:00",
                "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "'*'", "*", "&a",
                "!!binary aGk=", "!!python/object:os.system", "!custom x", "|", ">", "@x", "`x",
                "%x", "{", "[", "]", "}", "'", '"', "#", "- x", "? x", ": x", "<<: {}"]
JSON_LEAF = (st.none() | st.booleans()
             | st.integers(-(2**70), 2**70)
             | st.floats(allow_nan=True, allow_infinity=True)
             | st.text(max_size=20) | st.sampled_from(PATH_TRICKS + UNICODE_ODDITIES))
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)
TEXT = st.text(max_size=40) | st.sampled_from(PATH_TRICKS + UNICODE_ODDITIES)

PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "name": st.from_regex(r"[a-z][a-z0-9.:@-]{0,20}", fullmatch=True) | TEXT,
    "scheduler": st.sampled_from(["aps", "nope", "", "APS"]) | TEXT,
    "trigger_type": st.sampled_from(["cron", "interval", "clocked", "solar", "x", ""]),
    "trigger": st.sampled_from([
        "0 9 * * 1", "* * * * *", "0 9 31 2 *", "61 25 32 13 8", "*/0 * * * *", "bad",
        "0 2 * * *", "30 2 29 3 *", "0 0 L * *", "1-99999999999999999999/3 * * * *",
        {"minute": "0", "hour": "9"}, {"minute": 61}, {"second": "*/10"},
        {"minute": "0", "hour": "2", "day_of_month": "31", "month_of_year": "4"},
        {"every": 5}, {"every": 0}, {"every": 10**12}, {"every": 1, "period": "hours"},
        {"every": 1, "period": "fortnights"}, {"run_at": "2030-01-01T00:00:00Z"},
        {"run_at": "2030-01-01"}, {"run_at": "9999-12-31T23:59:59-23:59"},
        {"event": "sunrise", "latitude": 52.5, "longitude": 13.4},
        {"event": "sunrise", "latitude": float("nan"), "longitude": float("inf")},
    ]) | JSON_VALUE,
    "task": st.sampled_from(["jobs.run", "a:b", "not a task", "", "a" * 600]) | TEXT,
    "args": st.lists(JSON_VALUE, max_size=3) | JSON_VALUE,
    "kwargs": st.dictionaries(st.text(max_size=6), JSON_VALUE, max_size=3) | JSON_VALUE,
    "enabled": st.booleans() | JSON_VALUE,
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/Sao_Paulo", "Mars/Base",
                                 "../../etc/passwd", "/etc/localtime", "a\x00b", "", "utc"])
    | TEXT,
    "priority": st.integers(-(2**65), 2**65) | JSON_VALUE,
    "expires": st.floats() | JSON_VALUE,
}
SCHEDULE_FIELDS = ["name", "scheduler", "trigger_type", "trigger", "task", "args", "kwargs",
                   "enabled", "timezone", "queue", "priority", "expires", "description",
                   "renamed_from", "file", "tigger"]


def schedule_entries() -> st.SearchStrategy[dict[str, Any]]:
    """One schedule as a mapping: each field plausible, hostile or absent."""
    optional = {f: PLAUSIBLE.get(f, TEXT) | JSON_VALUE for f in SCHEDULE_FIELDS}
    return st.fixed_dictionaries({}, optional=optional)


def _dump(data: Any) -> str:
    # allow_unicode keeps odd characters raw in the file (what an editor would save).
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=60)


@st.composite
def schedule_files(draw: st.DrawFn) -> bytes:
    """Bytes of a schedule file: generated YAML, then damaged the way files get damaged."""
    shape = draw(st.sampled_from(["list", "list", "list", "other"]))
    if shape == "list":
        data: Any = {"schedules": draw(st.lists(schedule_entries(), max_size=4))}
    else:
        data = draw(JSON_VALUE)
    text = _dump(data).encode()
    return draw(damaged(text))


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    """Bytes of a ``schedsync.yaml``: the real one with hostile values put in, then damaged."""
    data: dict[str, Any] = yaml.safe_load(CONFIG)
    project = data["projects"]["acme"]
    scheduler = project["schedulers"]["aps"]
    targets: list[tuple[dict[str, Any], str]] = [
        (data, "version"), (data, "state"), (data, "projects"), (data, "review"),
        (data, "extra"), (project, "timezone"), (project, "min_interval"),
        (project, "schedulers"), (scheduler, "type"), (scheduler, "jobstore"),
        (scheduler, "url"), (scheduler, "store"), (scheduler, "tablename"),
    ]
    if draw(st.booleans()):
        slug = draw(st.sampled_from([*PATH_TRICKS, "Acme", "a" * 70, "-x"]) | TEXT)
        data["projects"] = {slug: project}
    if draw(st.booleans()):
        name = draw(st.sampled_from(PATH_TRICKS) | TEXT)
        project["schedulers"] = {name: scheduler}
    for target, key in draw(st.lists(st.sampled_from(targets), max_size=3)):
        target[key] = draw(st.sampled_from(YAML_SCALARS + PATH_TRICKS) | JSON_VALUE)
    if draw(st.booleans()):
        scheduler["url"] = draw(st.sampled_from([
            "${UNSET_VARIABLE_XYZ}", "${UNSET_VARIABLE_XYZ:-sqlite:///x}", "$$", "${", "${}",
            "${A:-${B}}", "redis://:secret@host/0", "sqlite:////etc/passwd",
        ]))
    return draw(damaged(_dump(data).encode()))


@st.composite
def damaged(draw: st.DrawFn, text: bytes) -> bytes:
    """``text`` with zero or more of the damages real files suffer."""
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(
            ["bom", "bytes", "nul", "tab", "dup-line", "scalar", "truncate", "crlf", "utf16"]))
        at = draw(st.integers(0, len(text)))
        if kind == "bom":
            text = b"\xef\xbb\xbf" + text
        elif kind == "bytes":
            text = text[:at] + draw(st.binary(min_size=1, max_size=4)) + text[at:]
        elif kind == "nul":
            text = text[:at] + b"\x00" + text[at:]
        elif kind == "tab":
            text = text.replace(b"  ", b"\t", draw(st.integers(1, 3)))
        elif kind == "dup-line":
            lines = text.splitlines(keepends=True) or [b""]
            i = draw(st.integers(0, len(lines) - 1))
            text = b"".join([*lines[: i + 1], lines[i], *lines[i + 1:]])
        elif kind == "scalar":
            scalar = draw(st.sampled_from(YAML_SCALARS)).encode()
            text = text[:at] + scalar + text[at:]
        elif kind == "truncate":
            text = text[:at]
        elif kind == "crlf":
            text = text.replace(b"\n", b"\r\n")
        else:
            text = text.decode("utf-8", "replace").encode("utf-16")
    return text


def alias_bomb(levels: int = 9, width: int = 9) -> bytes:
    """The "billion laughs": ``width ** levels`` strings from a few hundred bytes."""
    lines = ['a0: &a0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines.append(f"schedules: *a{levels}")
    return ("\n".join(lines) + "\n").encode()


def deep_nesting(depth: int, flow: bool = True) -> bytes:
    if flow:
        return b"schedules: " + b"[" * depth + b"]" * depth + b"\n"
    return b"schedules:\n" + b"".join(b"  " * (i + 1) + b"- \n" for i in range(depth))


# --- what every answer must satisfy -----------------------------------------------


def assert_actionable(diagnostic: Diagnostic) -> None:
    """Where, what and how to fix."""
    assert diagnostic.file, diagnostic
    assert diagnostic.line >= 1, diagnostic
    assert diagnostic.column >= 1, diagnostic
    assert diagnostic.message.strip(), diagnostic
    assert (diagnostic.fix or "").strip(), diagnostic


def check_schedule_bytes(
    content: bytes, file: str = "schedules/acme/jobs.yaml"
) -> list[Diagnostic]:
    """Parse and check one schedule file; raises only on a bug."""
    result = check_schedule_file(load_document(content, file))
    for diagnostic in result.diagnostics:
        assert_actionable(diagnostic)
    return result.diagnostics


def check_config_bytes(content: bytes) -> list[Diagnostic]:
    config, diagnostics = check_config(load_document(content, "schedsync.yaml"), environ={})
    for diagnostic in diagnostics:
        assert_actionable(diagnostic)
    assert config is not None or any(d.is_error for d in diagnostics)
    return diagnostics


# --- a real repository and the CLI -------------------------------------------------


def write_repo(root: Path, files: dict[str, bytes | str], *, commit: bool = True) -> Path:
    """A schedule repository at ``root``: ``CONFIG``, ``GOOD`` as email.yaml and
    ``files`` over them, in one git commit unless ``commit`` is false."""
    return build_repo(root, CONFIG, {"schedules/acme/email.yaml": GOOD, **files}, commit=commit)


def invoke(args: list[str], cwd: Path | None = None) -> Result:
    """Run the CLI in-process (click's runner) and check it ended like a CLI should."""
    runner = CliRunner()
    with contextlib.chdir(cwd or Path.cwd()):
        result = runner.invoke(cli, args, catch_exceptions=True)
    assert_clean_exit(result, args)
    return result


def assert_clean_exit(result: Result, args: list[str]) -> None:
    """A user error is a message and exit 1 or 2; anything else escaping is a bug."""
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(exc))
        raise AssertionError(f"schedsync {args!r} raised:\n{trace}")
    assert "Traceback (most recent call last)" not in result.output, (args, result.output)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    if result.exit_code != 0:
        assert result.output.strip(), (args, "non-zero exit without a message")


def run_process(
    args: list[str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real ``schedsync`` entry point in its own process."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "schedsync", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


# --- CLI arguments -------------------------------------------------------------------


# Each command with the options it takes; values come from VALUES.
COMMANDS: dict[str, list[str]] = {
    "validate": ["--format", "--no-cache"],
    "plan": ["--project", "--scheduler", "--format", "--prune", "--detailed-exitcode", "--out"],
    "apply": ["PLANFILE"],
    "diff": ["--base", "--head", "--format", "--detailed-exitcode", "--now"],
    "import": ["--project", "--scheduler", "--dry-run"],
    "resync": ["--project", "--direction", "--prune", "--dry-run"],
    "fires": ["PROJECT", "NAME", "--limit"],
    "trigger": ["PROJECT", "NAME"],
    "schema": [],
    "token": ["create", "revoke", "--user", "--email", "--role"],
    "serve": ["--port", "--host"],
}
FLAGS = {"--no-cache", "--prune", "--detailed-exitcode", "--dry-run", "create", "revoke"}
VALUES: dict[str, st.SearchStrategy[str]] = {
    "--format": st.sampled_from(["text", "json", "github", "markdown", "xml", ""]),
    "--project": st.sampled_from(["acme", "nope", "ACME"]) | TEXT,
    "--scheduler": st.sampled_from(["aps", "nope"]) | TEXT,
    "--base": st.sampled_from(["HEAD", "HEAD~1", "main", "--upload-pack=x", "-x", "@{-1}",
                               "HEAD:schedsync.yaml", "0" * 40, "../x"]) | TEXT,
    "--head": st.sampled_from(["HEAD", "HEAD^", "refs/heads/x"]) | TEXT,
    "--now": st.sampled_from(["2026-12-01T08:00:00Z", "2026-12-01", "9999-12-31T23:59:59-23:59",
                              "0001-01-01T00:00:00+14:00", "now"]) | TEXT,
    "--direction": st.sampled_from(["repo_to_scheduler", "scheduler_to_repo", "both"]) | TEXT,
    "--limit": st.sampled_from(["1", "0", "-1", "500", "501", "9" * 30, "1e3", "x"]),
    "PROJECT": st.sampled_from(["acme", "nope", "../acme"]) | TEXT,
    "NAME": st.sampled_from(["email.digest", "nope", "../x"]) | TEXT,
    "PLANFILE": st.sampled_from(["garbage.json", "list.json", "big.json", "stale.json",
                                 "missing.json", ".", "/", "/dev/null"]),
    "--out": st.sampled_from(["out.json", "missing/dir/out.json", "/proc/self/x", "."]),
    # Never real ports or hosts: a bad value must be refused before anything listens.
    "--port": st.sampled_from(["-1", "65536", "x", "9" * 30]),
    "--host": st.sampled_from(["256.0.0.1", "", "::::", "\u202e"]),
    "--user": TEXT,
    "--email": TEXT,
    "--role": st.sampled_from(["acme=admin", "acme=root", "=", "nope=viewer", "acme"]) | TEXT,
}
NOISE = st.sampled_from(["--help", "-h", "--bogus", "--", "-", "--format=json", "--repo"]) | TEXT


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    """A command line: a command, some of its options with odd values, some noise."""
    command = draw(st.sampled_from([*COMMANDS, "nope", ""]))
    argv = [command]
    for option in draw(st.lists(st.sampled_from(COMMANDS.get(command) or ["--x"]),
                                max_size=4, unique=True)):
        if option in FLAGS:
            argv.append(option)
        elif option.isupper():
            argv.append(draw(VALUES[option]))
        else:
            argv += [option, draw(VALUES.get(option, TEXT))]
    if draw(st.integers(0, 4)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(NOISE))
    if "--help" in argv or "-h" in argv or (command == "serve" and "--port" not in argv):
        argv.append("--port=-1")  # serve must never start listening here
    return argv


def cli_repo(root: Path) -> Path:
    """A repository for CLI fuzzing: committed, with plan files good, stale and broken, and
    an uncommitted change (so ``diff`` and ``plan`` have something to say)."""
    write_repo(root, {})
    (root / "garbage.json").write_bytes(b"\xff\x00{]")
    (root / "list.json").write_bytes(b"[]")
    (root / "big.json").write_text(json.dumps({"format_version": 10**30, "groups": [{}]}))
    assert invoke(["--repo", str(root), "plan", "--out", str(root / "stale.json")]).exit_code == 0
    email = root / "schedules/acme/email.yaml"
    email.write_text(email.read_text().replace("9", "10"))
    return root


# --- a real server process --------------------------------------------------------


def make_token(root: Path, user: str = "fuzzer") -> str:
    """A global admin's API token through the real CLI (the last line of its output)."""
    done = run_process(["--repo", str(root), "token", "create", "--user", user, "--admin"], root)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class Server(ServerProcess):
    """The shared server process, as the fuzzing tests name it."""

    def log_text(self) -> str:
        return self.output()


@contextlib.contextmanager
def serve(root: Path, log_dir: Path) -> Iterator[Server]:
    """``schedsync serve`` (uvicorn) on a free port with a global admin's token, stopped
    afterwards; its log is a new file in ``log_dir``."""
    token = make_token(root)
    with Server(root, log_dir / f"serve-{uuid.uuid4().hex[:8]}.log", token) as server:
        yield server


# --- the API of a real server: schemathesis from the OpenAPI document, raw hostile bodies --


@dataclass
class ApiReport:
    """What an API fuzzing run sent and what came back wrong."""

    inputs: int = 0
    server_errors: list[str] = field(default_factory=list)  # every 5xx except 503
    nonconforming: list[str] = field(default_factory=list)  # answers the schema does not allow
    statuses: Counter[int] = field(default_factory=Counter)

    def record_error(self, label: str, status: int, text: str) -> None:
        self.server_errors.append(f"{label} -> {status}: {text[:300]}")


def _session(server: Server) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token}"
    return session


def schedule_ids(server: Server, session: requests.Session, slug: str = "acme") -> list[str]:
    response = session.get(f"{server.url}/api/v1/projects/{slug}/schedules?limit=500", timeout=30)
    return [item["id"] for item in response.json().get("items", [])]


def fuzz_openapi(server: Server, examples: int, report: ApiReport | None = None) -> ApiReport:
    """Every operation of ``/api/v1/openapi.json``, ``examples`` schema-valid and as many
    schema-breaking cases each; half with the real project and schedule ids in the path
    so the requests reach the handlers instead of a 404."""
    import schemathesis
    from schemathesis import GenerationMode

    report = report or ApiReport()
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    session = _session(server)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ids = schedule_ids(server, session)
            pins = {"slug": "acme", **({"schedule_id": ids[0]} if ids else {})}
            pinned = {k: v for k, v in pins.items() if "{" + k + "}" in operation.path}
            real = operation.as_strategy(generation_mode=mode, path_parameters=pinned)
            # Three in four cases on the real project and ids: they reach the handlers.
            strategy = st.one_of(real, real, real, operation.as_strategy(generation_mode=mode))
            _run_cases(strategy, examples, lambda case: _call_case(case, session, report))
    return report


def _run_cases(strategy: st.SearchStrategy[Any], examples: int, check: Any) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis.errors import Unsatisfiable

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    with contextlib.suppress(Unsatisfiable):  # operations without parameters: nothing to break
        run()


def _call_case(case: Any, session: requests.Session, report: ApiReport) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    response = case.call(session=session, timeout=60)
    report.inputs += 1
    report.statuses[response.status_code] += 1
    label = f"{case.method} {case.formatted_path}"
    if response.status_code >= 500 and response.status_code != 503:
        report.record_error(label, response.status_code, response.text)
        return
    try:
        case.validate_response(response, checks=[
            not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance,
        ])
    except Exception as exc:  # noqa: BLE001 - schemathesis reports failures as exceptions
        report.nonconforming.append(f"{label} -> {response.status_code}: {str(exc)[:400]}")


HOSTILE_JSON_BODIES: list[bytes] = [
    b"[" * 300 + b"]" * 300, b'{"args": ' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"kwargs": ' + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}",
    b'{"args": [NaN]}', b'{"args": [Infinity]}', b'{"expires": 1e999}', b'{"priority": 1e400}',
    b'{"args": [' + b"9" * 5000 + b"]}", b'{"every": -0}', b'{"name": "\xff\xfe"}',
    b'\xef\xbb\xbf{"name": "x"}', b'{"name": "a\\u0000b"}', b'{"name": "\\ud800"}',
    b'{"a": 1, "a": 2}', b"", b" ", b"null", b"[]", b'"x"', b"1", b"{", b"\x00",
    b'{"file": "../../x.yaml", "name": "f.a", "scheduler": "aps", "trigger_type": "cron", '
    b'"trigger": "0 9 * * *", "task": "a.b"}',
]


LIVE_ID = "{live-id}"  # replaced when sent by a schedule id that exists at that moment


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers): any route, real or odd ids, hostile bodies and queries."""
    odd = draw(st.integers(0, 4)) == 0  # mostly real slugs and ids: reach the handlers
    slug = draw(st.sampled_from(["other", "..", "%00", "a%2fb", "ACME"])) if odd else "acme"
    sid = draw(st.sampled_from(["nope", "%00", "..%2f..", "x" * 300])) if odd else LIVE_ID
    base = f"/api/v1/projects/{slug}/schedules"
    method, path = draw(st.sampled_from([
        ("POST", base), ("GET", base), ("GET", f"{base}/{sid}"), ("PATCH", f"{base}/{sid}"),
        ("DELETE", f"{base}/{sid}"), ("POST", f"{base}/{sid}/enable"),
        ("POST", f"{base}/{sid}/disable"), ("POST", f"{base}/{sid}/trigger"),
        ("GET", f"{base}/{sid}/fires"), ("POST", f"{base}:import"), ("POST", f"{base}:diff"),
        ("POST", f"{base}:resync"), ("POST", "/api/v1/auth/session"),
        ("DELETE", "/api/v1/auth/session"), ("PUT", base), ("GET", "/api/v1/nope"),
    ]))
    if method == "GET":
        query = draw(st.dictionaries(
            st.sampled_from(["limit", "cursor", "enabled", "scheduler", "x", "limit[]"]),
            st.sampled_from(["0", "1", "500", "501", "-1", "9" * 30, "1e3", "true", "false",
                             "%ff%fe", "%00", "A" * 2000, "", "nope"]) | st.text(max_size=20),
            max_size=3))
        parts = [f"{key}={value}" if "%" in value else f"{key}={_quote(value)}"
                 for key, value in query.items()]
        return method, path + ("?" + "&".join(parts) if parts else ""), b"", {}
    kind = draw(st.sampled_from(["nearly", "nearly", "entry", "entry", "fixed", "bytes",
                                 "sync"]))
    if kind == "nearly":
        body = _json_bytes(draw(nearly_valid_entries(patch=method == "PATCH")))
    elif kind == "entry":
        entry = draw(schedule_entries())
        body = _json_bytes(entry)
        body = draw(damaged(body)) if draw(st.integers(0, 4)) == 0 else body
    elif kind == "sync":
        body = _json_bytes(draw(st.fixed_dictionaries({}, optional={
            "scheduler": st.sampled_from(["aps", "nope"]) | JSON_VALUE,
            "direction": st.sampled_from(["repo_to_scheduler", "scheduler_to_repo", "x"])
            | JSON_VALUE,
            "prune": JSON_VALUE, "dry_run": st.just(True) | JSON_VALUE,
            "overwrite": JSON_VALUE, "token": TEXT})))
    elif kind == "fixed":
        body = draw(st.sampled_from(HOSTILE_JSON_BODIES))
    else:
        body = draw(st.binary(max_size=200))
    content_type = draw(st.sampled_from(["application/json", "application/json",
                                         "text/plain", "application/json; charset=latin-1"]))
    return method, path, body, {"Content-Type": content_type}


@st.composite
def nearly_valid_entries(draw: st.DrawFn, patch: bool = False) -> dict[str, Any]:
    """A schedule the server accepts, with at most one field made odd: these reach the
    writer (YAML edit, git commit, live apply) instead of stopping at validation."""
    entry: dict[str, Any] = {
        "name": draw(st.from_regex(r"fz\.[a-z0-9]{1,12}", fullmatch=True)),
        "scheduler": "aps", "trigger_type": "interval",
        "trigger": {"every": draw(st.integers(1, 10**6)), "period": "minutes"},
        "task": "jobs.run",
    }
    if patch:
        entry = dict([draw(st.sampled_from(sorted(entry.items())))])
    if draw(st.booleans()):
        field_name = draw(st.sampled_from(SCHEDULE_FIELDS))
        entry[field_name] = draw(PLAUSIBLE.get(field_name, TEXT) | JSON_VALUE)
    return entry


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _json_bytes(value: Any) -> bytes:
    import json

    # allow_nan: NaN and Infinity literals are exactly what a careless client sends.
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def fuzz_raw(server: Server, examples: int, report: ApiReport | None = None) -> ApiReport:
    """Hostile bytes, bodies and queries on every route; only 5xx (bar 503) counts."""
    report = report or ApiReport()
    session = _session(server)
    ids = schedule_ids(server, session)

    def send(request: tuple[str, str, bytes, dict[str, str]]) -> None:
        if report.inputs % 10 == 0:  # deletes and renames retire ids: keep hitting live ones
            ids[:] = schedule_ids(server, session) or [_seed_schedule(server, session)]
        method, path, body, headers = request
        live = ids[hash(body) % len(ids)] if ids else "nope"
        path = path.replace(LIVE_ID, live)
        response = session.request(method, server.url + path, data=body, headers=headers,
                                   timeout=60)
        report.inputs += 1
        report.statuses[response.status_code] += 1
        if response.status_code >= 500 and response.status_code != 503:
            report.record_error(f"{method} {path[:120]} {body[:120]!r}", response.status_code,
                                response.text)

    _run_cases(raw_requests(), examples, send)
    return report


def _seed_schedule(server: Server, session: requests.Session) -> str:
    """A fresh valid schedule when the fuzzing deleted them all (not counted as input)."""
    body = {"name": f"seed.{uuid.uuid4().hex[:12]}", "scheduler": "aps",
            "trigger_type": "interval", "trigger": {"every": 5, "period": "minutes"},
            "task": "jobs.run"}
    response = session.post(f"{server.url}/api/v1/projects/acme/schedules", json=body,
                            timeout=60)
    assert response.status_code == 201, response.text
    schedule_id: str = response.json()["id"]
    return schedule_id


def server_tracebacks(server: Server) -> int:
    return server.log_text().count(TRACEBACK)
