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

import pytest
import redis
import sqlalchemy as sa
from click.testing import CliRunner

from schedsync.cli.main import cli as schedsync
from schedsync.engine.plan import Origin
from schedsync.engine.sync import make_plan
from schedsync.engine.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "celery_fixtures"
sys.path.insert(0, str(FIXTURES))
from django_db import migrate  # noqa: E402
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


@pytest.fixture
def django_repo(tmp_path: Path) -> Path:
    migrate(str(tmp_path / "django.sqlite3"))
    write_config(tmp_path, "        type: celery-beat\n        store: django-celery-beat\n"
                           "        url: sqlite:///django.sqlite3\n")
    return tmp_path


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


def test_django_celery_beat_live_edit_shows_origin_live(django_repo: Path) -> None:
    apply_schedules(django_repo)
    engine = sa.create_engine(f"sqlite:///{django_repo / 'django.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE django_celery_beat_crontabschedule SET hour = '3'"))
    engine.dispose()
    changes = live_changes(django_repo)
    assert list(changes) == ["reports.nightly"]
    origin, paths = changes["reports.nightly"]
    assert origin is Origin.LIVE
    assert "trigger.hour" in paths


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
