"""One repository with one instance of every error: all are reported in one run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from schedsync.engine.repository import load_repository

CONFIG = """\
version: 1
projects:
  acme:
    timezone: Europe/Berlin
    min_interval: 10m
    schedulers:
      aps: {type: apscheduler, url: "sqlite:///.schedsync/acme.sqlite"}
      beat: {type: celery-beat, store: redbeat, url: "${KITCHEN_SINK_UNSET}",
             timezone: Europe/Berlin}
      django: {type: celery-beat, store: django-celery-beat, url: "sqlite:///b.sqlite"}
"""

GOOD = """\
schedules:
  - name: ok.one
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.ok
"""

# line numbers matter: each bad schedule starts where the comment says
BAD = """\
schedules:
  - name: unknown.field          # 2
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.t
    tigger: x                    # 7: unknown field
  - name: wrong.type             # 8
    scheduler: aps
    trigger_type: interval
    trigger: {every: 5, period: minutes}
    task: app.t
    enabled: "yes"               # 13: wrong type
  - name: missing.task           # 14: missing field
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
  - name: dup.name               # 18: duplicate (with line 24)
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.t
  - name: dup.name               # 23
    scheduler: aps
    trigger_type: cron
    trigger: "0 10 * * *"
    task: app.t
  - name: unknown.scheduler      # 28
    scheduler: nope
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.t
  - name: bad.cron               # 33
    scheduler: aps
    trigger_type: cron
    trigger: {minute: "61"}      # 36: invalid cron field
    task: app.t
  - name: never.fires            # 38
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 30 2 *"        # 41: never fires
    task: app.t
  - name: bad.zone               # 43
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.t
    timezone: Europe/Nowhere     # 48
  - name: too.big                # 49
    scheduler: aps
    trigger_type: interval
    trigger: {every: 1, period: hours}
    task: app.t
    args: ["BIG"]                # 54
  - name: naive.clock            # 55
    scheduler: aps
    trigger_type: clocked
    trigger: {run_at: "2027-01-01T10:00:00"}   # 58
    task: app.t
  - name: solar.on.aps           # 60
    scheduler: aps
    trigger_type: solar          # 62
    trigger: {event: sunrise, latitude: 1, longitude: 2}
    task: app.t
  - name: seconds.on.beat        # 65
    scheduler: django
    trigger_type: cron
    trigger: {second: "5", minute: "0"}   # 68
    task: app.t
  - name: zone.on.redbeat        # 70
    scheduler: beat
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.t
    timezone: UTC                # 75
  - name: renamed.new            # 76
    renamed_from: ok.one         # 77
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.t
  - name: dst.gap                # 82: warnings from here on
    scheduler: aps
    trigger_type: cron
    trigger: {minute: "30", hour: "2"}   # 85
    task: app.t
  - name: both.days              # 87
    scheduler: aps
    trigger_type: cron
    trigger: {minute: "0", hour: "9", day_of_month: "1", day_of_week: "mon"}   # 90
    task: app.t
  - name: too.often              # 92
    scheduler: aps
    trigger_type: interval
    trigger: {every: 1, period: minutes}   # 95
    task: app.t
""".replace('"BIG"', '"' + "x" * 70_000 + '"')


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_every_error_is_reported_in_one_run_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, {
        "schedsync.yaml": CONFIG,
        "schedules/acme/good.yaml": GOOD,
        "schedules/acme/bad.yaml": BAD,
        "schedules/acme/broken.yaml": "schedules:\n  - name: [unclosed\n",
        "schedules/acme/dupkey.yaml": GOOD.replace("ok.one", "ok.two").replace(
            "task: app.ok", "task: app.ok\n    task: app.again"),
        "schedules/acme/tagged.yaml": GOOD.replace("app.ok", "!!python/name:os.system"),
        "schedules/acme/latin1.yaml": "schedules: []\n# caf\xe9\n",
        "schedules/stray.yaml": "schedules: []\n",
        "schedules/unknown-project/x.yaml": GOOD,
    })
    (tmp_path / "schedules/acme/latin1.yaml").write_bytes(b"schedules: []\n# caf\xe9\n")
    repo = load_repository(tmp_path, use_cache=False, today=date(2026, 6, 1))
    found = {(d.file.rsplit("/", 1)[-1], d.line, d.code) for d in repo.diagnostics.items}
    expected = {
        ("schedsync.yaml", 8, "missing-env"),
        ("bad.yaml", 7, "unknown-field"),
        ("bad.yaml", 13, "wrong-type"),
        ("bad.yaml", 14, "missing-field"),
        ("bad.yaml", 18, "duplicate-name"),
        ("bad.yaml", 23, "duplicate-name"),
        ("bad.yaml", 29, "unknown-scheduler"),
        ("bad.yaml", 36, "invalid-cron"),
        ("bad.yaml", 41, "cron-never-fires"),
        ("bad.yaml", 48, "invalid-timezone"),
        ("bad.yaml", 54, "too-large"),
        ("bad.yaml", 58, "clocked-no-offset"),
        ("bad.yaml", 62, "unsupported-by-store"),
        ("bad.yaml", 68, "unsupported-by-store"),
        ("bad.yaml", 75, "unsupported-by-store"),
        ("bad.yaml", 77, "renamed-from-exists"),
        ("bad.yaml", 85, "dst-gap"),
        ("bad.yaml", 85, "dst-overlap"),
        ("bad.yaml", 90, "dom-and-dow"),
        ("bad.yaml", 95, "too-frequent"),
        ("broken.yaml", 3, "syntax"),
        ("dupkey.yaml", 7, "duplicate-key"),
        ("tagged.yaml", 6, "unsupported-tag"),
        ("latin1.yaml", 2, "invalid-utf8"),
        ("stray.yaml", 1, "misplaced-file"),
        ("x.yaml", 1, "unknown-project"),
    }
    assert found == expected
    warnings = {d.code for d in repo.diagnostics.warnings}
    assert warnings == {"dst-gap", "dst-overlap", "dom-and-dow", "too-frequent"}
    # the valid ones survive: the good file and the three warned-about schedules
    names = sorted(r.schedule.name for r in repo.project("acme"))
    assert names == ["both.days", "dst.gap", "ok.one", "too.often"]
