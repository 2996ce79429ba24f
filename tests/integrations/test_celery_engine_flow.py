"""The Celery stores under the engine: apply, drift made in the store, import.

Through the CLI and the engine's own plan, on a real repository: a live edit made
directly in RedBeat or django-celery-beat shows up with origin ``live``; importing a
static ``beat_schedule`` app writes YAML that validates and then plans to no changes.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from click.testing import CliRunner

from schedsync.cli.main import cli as schedsync
from schedsync.engine.adapters.django_celery_beat import DjangoCeleryBeatAdapter
from schedsync.engine.plan import Origin
from schedsync.engine.state import StateStore
from schedsync.engine.state.errors import StateError
from schedsync.engine.sync import apply_plan, make_plan
from schedsync.engine.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "celery_fixtures"
sys.path.insert(0, str(FIXTURES))
from django_db import migrate, pg_copy, pg_drop  # noqa: E402
from services import require_service  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/2"
SCHEDULES = """\
schedules:
  - name: reports.nightly
    scheduler: beat
    trigger_type: cron
    trigger: {minute: "30", hour: "2", day_of_week: "mon-fri"}
    task: reports.build
    kwargs: {kind: nightly}
  - name: reports.poll
    scheduler: beat
    trigger_type: interval
    trigger: {every: 90, period: seconds}
    task: reports.poll
    args: [1, "a"]
    queue: fast
"""


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(schedsync, ["--repo", str(root), *args])
    return result.exit_code, f"{result.output}{result.exception or ''}"


def write_config(root: Path, scheduler: str) -> None:
    (root / "schedsync.yaml").write_text(
        "version: 1\nstate: .schedsync/state.db\nprojects:\n  acme:\n"
        "    timezone: Europe/Berlin\n    schedulers:\n      beat:\n" + scheduler
    )


@pytest.fixture
def redbeat_repo(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    require_service("redis")
    prefix = f"schedsync-test-{uuid.uuid4().hex[:8]}:"
    write_config(tmp_path, f"        type: celery-beat\n        store: redbeat\n"
                           f"        url: {REDIS_URL}\n        key_prefix: '{prefix}'\n"
                           "        timezone: Europe/Berlin\n")
    yield tmp_path, prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def django_repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    if request.param == "sqlite":
        migrate(str(tmp_path / "django.sqlite3"))
        url = "sqlite:///django.sqlite3"
    else:
        url = pg_copy(request.getfixturevalue("django_pg_template"))
    write_config(tmp_path, "        type: celery-beat\n        store: django-celery-beat\n"
                           f"        url: {url}\n")
    yield tmp_path
    if request.param == "postgres":
        pg_drop(url)


def django_engine(root: Path) -> sa.Engine:
    url = Workspace.open(root).scheduler_config("acme", "beat").url
    assert url is not None
    if url.startswith("sqlite:///"):
        return sa.create_engine(f"sqlite:///{root / url.removeprefix('sqlite:///')}")
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def apply_schedules(root: Path) -> None:
    (root / "schedules" / "acme").mkdir(parents=True)
    (root / "schedules" / "acme" / "reports.yaml").write_text(SCHEDULES)
    code, output = run(root, "apply", "--auto-approve")
    assert code == 0, output
    code, output = run(root, "plan", "--detailed-exitcode")
    assert code == 0, output  # applied: nothing left to change


def live_changes(root: Path) -> dict[str, tuple[Origin, list[str]]]:
    ws = Workspace.open(root)
    try:
        plan = make_plan(ws)
    finally:
        ws.close()
    return {c.name: (c.origin, [f.path for f in c.fields]) for c in plan.changes if c.is_change}


def test_redbeat_live_edit_shows_origin_live(redbeat_repo: tuple[Path, str]) -> None:
    root, prefix = redbeat_repo
    apply_schedules(root)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    definition = json.loads(client.hget(f"{prefix}reports.poll", "definition") or "{}")
    assert definition["options"]["headers"]["schedsync_project"] == "acme"
    definition["args"] = [2, "edited"]
    client.hset(f"{prefix}reports.poll", "definition", json.dumps(definition))
    client.close()
    changes = live_changes(root)
    assert list(changes) == ["reports.poll"]
    origin, paths = changes["reports.poll"]
    assert origin is Origin.LIVE
    assert any(path.startswith("args") for path in paths)


@pytest.mark.parametrize(("edit", "name", "path"), [
    # a shared schedule row, edited on its own
    ("UPDATE django_celery_beat_crontabschedule SET hour = '3'", "reports.nightly",
     "trigger.hour"),
    ("UPDATE django_celery_beat_periodictask SET args = '[2, \"a\"]' "
     "WHERE name = 'reports.poll'", "reports.poll", "args"),
    ("UPDATE django_celery_beat_periodictask SET queue = NULL WHERE name = 'reports.poll'",
     "reports.poll", "queue"),
])
def test_django_celery_beat_live_edit_shows_origin_live(
    django_repo: Path, edit: str, name: str, path: str
) -> None:
    apply_schedules(django_repo)
    engine = django_engine(django_repo)
    with engine.begin() as conn:
        conn.execute(sa.text(edit))
    engine.dispose()
    changes = live_changes(django_repo)
    assert list(changes) == [name]
    origin, paths = changes[name]
    assert origin is Origin.LIVE
    assert any(p.startswith(path) for p in paths), paths


def test_django_celery_beat_plan_trusts_digests_only_while_they_hold(
    django_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL an apply records each row's digest with its base, and a plan reads
    whole only the rows whose digest moved; SQLite has no digests: every row is read."""
    apply_schedules(django_repo)
    postgres = "postgresql" in str(django_engine(django_repo).url)
    ws = Workspace.open(django_repo)
    try:
        bindings = ws.state.bindings("acme", "beat")
        assert {n: b.live_digest is not None for n, b in bindings.items()} == {
            "reports.nightly": postgres, "reports.poll": postgres}
    finally:
        ws.close()
    read_whole: list[list[str] | None] = []
    real_rows = DjangoCeleryBeatAdapter._rows

    def rows(self: DjangoCeleryBeatAdapter, conn: Any, keys: list[str] | None) -> Any:
        read_whole.append(keys)
        return real_rows(self, conn, keys)

    monkeypatch.setattr(DjangoCeleryBeatAdapter, "_rows", rows)
    assert live_changes(django_repo) == {}
    assert read_whole == ([[]] if postgres else [None])
    engine = django_engine(django_repo)
    with engine.begin() as conn:  # beat's own writes are not drift
        conn.execute(sa.text("UPDATE django_celery_beat_periodictask "
                             "SET total_run_count = 5, last_run_at = date_changed"))
        conn.execute(sa.text("UPDATE django_celery_beat_periodictask SET task = 'x.y' "
                             "WHERE name = 'reports.nightly'"))
    engine.dispose()
    read_whole.clear()
    assert list(live_changes(django_repo)) == ["reports.nightly"]
    assert read_whole == ([["reports.nightly"]] if postgres else [None])


def test_import_of_a_static_beat_schedule_validates_and_plans_clean(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "fixture_static_app.py", tmp_path / "static_app_import.py")
    write_config(tmp_path, "        type: celery-beat\n        store: beat-schedule\n"
                           "        app: static_app_import:app\n"
                           "        timezone: Europe/Berlin\n")
    (tmp_path / "schedules" / "acme").mkdir(parents=True)
    (tmp_path / "schedules" / "acme" / "static.yaml").write_text("schedules: []\n")
    code, output = run(tmp_path, "import", "--project", "acme")
    assert code == 0, output
    assert "imported 6 new" in output
    written = "".join(p.read_text() for p in (tmp_path / "schedules" / "acme").glob("*.y*ml"))
    assert "cron-text" in written
    assert "static.digest" in written
    code, output = run(tmp_path, "validate")
    assert code == 0, output
    code, output = run(tmp_path, "plan", "--detailed-exitcode")
    assert code == 0, output


def test_an_apply_adopts_digests_only_for_entries_still_in_sync(django_repo: Path) -> None:
    """Bases recorded without a digest (before the state kept them, by an import) get
    one at the next apply, for entries that still hold them when it reads them whole:
    an edit made after the plan was made keeps its entry read whole, and in the plan."""
    apply_schedules(django_repo)
    postgres = "postgresql" in str(django_engine(django_repo).url)
    state = sa.create_engine(f"sqlite:///{django_repo / '.schedsync' / 'state.db'}")
    with state.begin() as conn:
        conn.execute(sa.text("UPDATE schedsync_bindings SET live_digest = NULL"))
    ws = Workspace.open(django_repo)
    try:
        plan = make_plan(ws)
        assert not plan.has_changes
        engine = django_engine(django_repo)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE django_celery_beat_periodictask SET args = '[7]' "
                                 "WHERE name = 'reports.poll'"))
        engine.dispose()
        assert apply_plan(ws, plan).ok
    finally:
        ws.close()
    with state.connect() as conn:
        digested = dict(conn.execute(sa.text(
            "SELECT s.name, b.live_digest IS NOT NULL FROM schedsync_bindings b "
            "JOIN schedsync_schedules s ON s.id = b.schedule_id")).all())
    state.dispose()
    assert digested == {"reports.nightly": postgres, "reports.poll": False}
    assert list(live_changes(django_repo)) == ["reports.poll"]


def test_an_apply_with_nothing_to_change_still_adopts_digests(django_repo: Path) -> None:
    apply_schedules(django_repo)
    postgres = "postgresql" in str(django_engine(django_repo).url)
    state = sa.create_engine(f"sqlite:///{django_repo / '.schedsync' / 'state.db'}")
    with state.begin() as conn:
        conn.execute(sa.text("UPDATE schedsync_bindings SET live_digest = NULL"))
        serial = conn.execute(sa.text("SELECT serial FROM schedsync_meta")).scalar()
    code, output = run(django_repo, "apply", "--auto-approve")
    assert code == 0, output
    with state.connect() as conn:
        digested = conn.execute(sa.text(
            "SELECT count(*) FROM schedsync_bindings WHERE live_digest IS NOT NULL")).scalar()
        after = conn.execute(sa.text("SELECT serial FROM schedsync_meta")).scalar()
    state.dispose()
    assert digested == (2 if postgres else 0)
    assert after == serial  # no change was applied: saved plans stay valid


def test_a_failed_digest_adoption_fails_no_apply(
    django_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adopting digests comes after the apply's work is recorded: a state that fails
    then costs later plans their fast path, not the apply its success."""
    apply_schedules(django_repo)
    state = sa.create_engine(f"sqlite:///{django_repo / '.schedsync' / 'state.db'}")
    with state.begin() as conn:
        conn.execute(sa.text("UPDATE schedsync_bindings SET live_digest = NULL"))
    state.dispose()

    def broken(*_args: object, **_kwargs: object) -> int:
        raise StateError("the state file is locked by another process")

    monkeypatch.setattr(StateStore, "set_live_digests", broken)
    (django_repo / "schedules" / "acme" / "reports.yaml").write_text(
        SCHEDULES.replace("kind: nightly", "kind: weekly"))
    ws = Workspace.open(django_repo)
    try:
        result = apply_plan(ws, make_plan(ws))
    finally:
        ws.close()
    assert result.ok
    assert [c.name for c in result.applied] == ["reports.nightly"]
