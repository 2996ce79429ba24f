"""Every validation rule: the exact message and the exact place it points at."""

from __future__ import annotations

from datetime import date

import pytest

from schedsync.engine.diagnostics import Diagnostic, Severity
from schedsync.engine.repository import LoadedRepository, load_repository_from_files

CONFIG = """\
version: 1
projects:
  acme:
    timezone: UTC
    schedulers:
      aps: {type: apscheduler, url: "sqlite:///.schedsync/acme.sqlite"}
      beat: {type: celery-beat, store: redbeat, url: "redis://127.0.0.1:6379/0"}
      django: {type: celery-beat, store: django-celery-beat, url: "sqlite:///b.sqlite"}
      static: {type: celery-beat, store: beat-schedule, app: "acme.celery:app"}
"""
TODAY = date(2026, 6, 1)
FILE = "schedules/acme/jobs.yaml"


def load(schedules: str, config: str = CONFIG, **extra: str) -> LoadedRepository:
    files = {"schedsync.yaml": config.encode(), FILE: schedules.encode()}
    files.update({name: text.encode() for name, text in extra.items()})
    return load_repository_from_files(files, today=TODAY)


def only(schedules: str, config: str = CONFIG) -> Diagnostic:
    items = load(schedules, config).diagnostics.items
    assert len(items) == 1, items
    return items[0]


def where(d: Diagnostic) -> tuple[str, str, int, int, str]:
    return (d.severity.value, d.code, d.line, d.column, d.path)


def job(**fields: str) -> str:
    """One schedule in block style; ``fields`` override or add lines."""
    base = {
        "name": "job.a", "scheduler": "aps", "trigger_type": "cron",
        "trigger": '{minute: "0", hour: "9"}', "task": "app.tasks.run",
    }
    base.update(fields)
    lines = [f"    {k}: {v}" for k, v in base.items() if v != "<omit>"]
    lines[0] = "  - " + lines[0].lstrip()
    return "\n".join(lines) + "\n"


def test_a_valid_schedule_yields_a_repo_schedule_with_its_spec() -> None:
    repo = load("schedules:\n" + job())
    assert repo.diagnostics.items == []
    [item] = repo.project("acme")
    assert (item.project, item.file, item.index, item.line) == ("acme", FILE, 0, 2)
    assert item.spec["trigger"]["hour"] == "9"
    assert item.spec["timezone"] == "UTC"
    assert repo.find("acme", "job.a") is item
    assert repo.find("acme", "nope") is None


def test_unknown_field_points_at_the_key_and_suggests() -> None:
    d = only("schedules:\n" + job(tigger="x"))
    assert where(d) == ("error", "unknown-field", 7, 5, "schedules[0].tigger")
    assert d.message == "unknown field 'tigger' in a schedule"
    assert d.fix == "did you mean 'trigger'?"
    assert d.expected is not None
    assert d.expected.startswith("one of: name, scheduler,")


def test_unknown_trigger_field_lists_the_trigger_fields() -> None:
    d = only("schedules:\n" + job(trigger="{minute: '0', hours: '9'}"))
    assert where(d) == ("error", "unknown-field", 5, 28, "schedules[0].trigger.hours")
    assert d.message == "unknown field 'hours' in the trigger"
    assert d.fix == "did you mean 'hour'?"


def test_unknown_top_level_field() -> None:
    d = only("schedule:\n" + job())
    assert where(d) == ("error", "unknown-field", 1, 1, "schedule")
    assert d.fix == "did you mean 'schedules'?"


def test_wrong_type() -> None:
    d = only("schedules:\n" + job(enabled='"yes"'))
    assert where(d) == ("error", "wrong-type", 7, 14, "schedules[0].enabled")
    assert d.message == "enabled must be true or false"
    assert d.found == "string 'yes'"
    assert d.fix == "write enabled: true or enabled: false (without quotes)"


def test_wrong_type_for_a_string_field_says_to_quote() -> None:
    d = only("schedules:\n" + job(queue="5"))
    assert where(d) == ("error", "wrong-type", 7, 12, "schedules[0].queue")
    assert d.fix == 'quote the value: queue: "5"'


def test_missing_required_field_points_at_the_schedule() -> None:
    d = only("schedules:\n" + job(task="<omit>"))
    assert where(d) == ("error", "missing-field", 2, 5, "schedules[0].task")
    assert d.message == "missing required field 'task' in this schedule"


def test_invalid_name() -> None:
    d = only("schedules:\n" + job(name='"has space"'))
    assert where(d) == ("error", "invalid-value", 2, 11, "schedules[0].name")
    assert d.fix == "use letters, digits and . _ : @ - only, e.g. email.daily-digest"


def test_bad_trigger_type_suggests_and_hides_trigger_noise() -> None:
    d = only("schedules:\n" + job(trigger_type="crn"))
    assert where(d) == ("error", "invalid-value", 4, 19, "schedules[0].trigger_type")
    assert d.message == "trigger_type must be one of 'cron', 'interval', 'clocked' or 'solar'"
    assert d.fix == "did you mean 'cron'?"


def test_interval_needs_whole_number() -> None:
    d = only("schedules:\n" + job(trigger_type="interval", trigger='{every: "5"}'))
    assert where(d) == ("error", "wrong-type", 5, 22, "schedules[0].trigger.every")
    assert d.fix == "write the number without quotes: every: 5"


def test_duplicate_names_report_both_locations() -> None:
    repo = load("schedules:\n" + job() + job(trigger='"0 10 * * *"'))
    items = repo.diagnostics.items
    assert [where(d) for d in items] == [
        ("error", "duplicate-name", 2, 11, "schedules[0].name"),
        ("error", "duplicate-name", 7, 11, "schedules[1].name"),
    ]
    assert items[0].message == (
        f"the name 'job.a' is used more than once in project 'acme' (also at {FILE}:7)"
    )
    assert items[1].message.endswith(f"(also at {FILE}:2)")
    assert repo.project("acme") == []


def test_duplicate_names_across_files_of_one_project() -> None:
    repo = load("schedules:\n" + job(), **{"schedules/acme/other.yaml": "schedules:\n" + job()})
    assert {(d.file, d.code) for d in repo.diagnostics.items} == {
        (FILE, "duplicate-name"), ("schedules/acme/other.yaml", "duplicate-name")}


def test_unknown_scheduler_lists_the_configured_ones() -> None:
    d = only("schedules:\n" + job(scheduler="apscheduler"))
    assert where(d) == ("error", "unknown-scheduler", 3, 16, "schedules[0].scheduler")
    assert d.message == "project 'acme' has no scheduler 'apscheduler'"
    assert d.expected == "one of: aps, beat, django, static"


def test_invalid_cron_field_points_at_the_field() -> None:
    d = only("schedules:\n" + job(trigger='{minute: "61", hour: "9"}'))
    assert where(d) == ("error", "invalid-cron", 5, 23, "schedules[0].trigger.minute")
    assert d.found
    assert "61" in d.found


def test_cron_that_never_fires() -> None:
    d = only("schedules:\n" + job(trigger='{day_of_month: "31", month_of_year: "2"}'))
    assert where(d) == ("error", "cron-never-fires", 5, 29, "schedules[0].trigger.day_of_month")
    assert d.message == "this cron can never fire: no day '31' exists in feb"


def test_cron_string_shorthand_errors_point_at_the_string() -> None:
    d = only("schedules:\n" + job(trigger='"0 9 * *"'))
    assert where(d) == ("error", "invalid-cron", 5, 14, "schedules[0].trigger")
    assert d.message == (
        "invalid cron string: a cron string has 5 fields (minute hour day-of-month month "
        "day-of-week), found 4"
    )


def test_cron_is_checked_even_when_another_field_is_wrong() -> None:
    items = load("schedules:\n" + job(trigger='"0 9 31 2 *"', enabled='"no"')).diagnostics.items
    assert [d.code for d in items] == ["cron-never-fires", "wrong-type"]


def test_invalid_time_zone() -> None:
    d = only("schedules:\n" + job(timezone="Europe/Berln"))
    assert where(d) == ("error", "invalid-timezone", 7, 15, "schedules[0].timezone")
    assert d.message == "unknown time zone 'Europe/Berln'"


def test_args_over_64_kib() -> None:
    big = '["' + "x" * 70_000 + '"]'
    d = only("schedules:\n" + job(args=big))
    assert where(d) == ("error", "too-large", 7, 11, "schedules[0].args")
    assert d.message == "args is too large: at most 65536 bytes of compact JSON, found 70004 bytes"
    assert d.found == "70004 bytes"


def test_kwargs_at_exactly_64_kib_are_fine() -> None:
    # {"k":"xxx..."} is 8 bytes plus the value
    kwargs = '{k: "' + "x" * (65_536 - 8) + '"}'
    assert load("schedules:\n" + job(kwargs=kwargs)).diagnostics.items == []


def test_clocked_without_offset() -> None:
    naive = '{run_at: "2027-01-01T10:00:00"}'
    d = only("schedules:\n" + job(trigger_type="clocked", trigger=naive))
    assert where(d) == ("error", "clocked-no-offset", 5, 23, "schedules[0].trigger.run_at")
    assert d.message == "run_at has no UTC offset: the moment is ambiguous"


def test_solar_is_refused_on_apscheduler() -> None:
    d = only("schedules:\n" + job(trigger_type="solar",
                                  trigger="{event: sunrise, latitude: 52.5, longitude: 13.4}"))
    assert where(d) == ("error", "unsupported-by-store", 4, 19, "schedules[0].trigger_type")
    assert d.message == "scheduler 'aps' (apscheduler (sqlalchemy)) cannot run solar triggers"
    assert d.fix == "solar triggers need a celery-beat scheduler with store django-celery-beat"


def test_solar_is_fine_on_django_celery_beat() -> None:
    text = "schedules:\n" + job(scheduler="django", trigger_type="solar",
                                trigger="{event: sunset, latitude: 52.5, longitude: 13.4}")
    assert load(text).diagnostics.items == []


def test_clocked_is_refused_on_redbeat() -> None:
    d = only("schedules:\n" + job(scheduler="beat", trigger_type="clocked",
                                  trigger='{run_at: "2027-01-01T10:00:00Z"}'))
    assert where(d) == ("error", "unsupported-by-store", 4, 19, "schedules[0].trigger_type")


def test_seconds_only_on_apscheduler() -> None:
    assert load("schedules:\n" + job(trigger='{second: "30", minute: "0"}')).diagnostics.items == []
    d = only("schedules:\n" + job(scheduler="django", trigger='{second: "30", minute: "0"}'))
    assert where(d) == ("error", "unsupported-by-store", 5, 23, "schedules[0].trigger.second")
    assert d.message == (
        "scheduler 'django' (celery-beat (django-celery-beat)) has no seconds field in its crons"
    )


def test_per_schedule_time_zone_refused_on_redbeat() -> None:
    d = only("schedules:\n" + job(scheduler="beat", timezone="Europe/Berlin"))
    assert where(d) == ("error", "unsupported-by-store", 7, 15, "schedules[0].timezone")
    assert "runs every schedule in the Celery app's zone UTC" in d.message


def test_per_schedule_time_zone_fine_on_django_celery_beat() -> None:
    repo = load("schedules:\n" + job(scheduler="django", timezone="Europe/Berlin"))
    assert repo.diagnostics.items == []
    assert repo.project("acme")[0].spec["timezone"] == "Europe/Berlin"


def test_project_zone_must_match_a_fixed_zone_store() -> None:
    config = CONFIG.replace("timezone: UTC", "timezone: Europe/Berlin")
    d = only("schedules:\n" + job(scheduler="static"), config)
    assert where(d) == ("error", "unsupported-by-store", 3, 16, "schedules[0].scheduler")
    assert d.fix.startswith("set 'timezone: Europe/Berlin' on the scheduler in schedsync.yaml")


def test_renamed_from_a_schedule_that_still_exists() -> None:
    repo = load("schedules:\n" + job() + job(name="job.b", renamed_from="job.a"))
    [d] = repo.diagnostics.items
    assert where(d) == ("error", "renamed-from-exists", 12, 19, "schedules[1].renamed_from")
    assert d.message == f"renamed_from 'job.a' names a schedule that still exists ({FILE}:2)"


def test_dst_gap_and_overlap_are_warnings() -> None:
    config = CONFIG.replace("timezone: UTC", "timezone: Europe/Berlin")
    repo = load("schedules:\n" + job(trigger='{minute: "30", hour: "2"}'), config)
    assert [where(d) for d in repo.diagnostics.items] == [
        ("warning", "dst-gap", 5, 35, "schedules[0].trigger.hour"),
        ("warning", "dst-overlap", 5, 35, "schedules[0].trigger.hour"),
    ]
    assert "2027-03-28 02:30 does not exist in Europe/Berlin" in repo.diagnostics.items[0].message
    assert len(repo.project("acme")) == 1  # warnings never drop a schedule


def test_no_dst_warning_in_utc() -> None:
    assert load("schedules:\n" + job(trigger='{minute: "30", hour: "2"}')).diagnostics.items == []


def test_day_of_month_and_day_of_week_both_restricted() -> None:
    d = only("schedules:\n" + job(trigger='{day_of_month: "1", day_of_week: "mon"}'))
    assert where(d) == ("warning", "dom-and-dow", 5, 47, "schedules[0].trigger.day_of_week")
    assert d.message.startswith("day_of_month and day_of_week are both restricted")


def test_min_interval_warning() -> None:
    config = CONFIG.replace("timezone: UTC", "timezone: UTC\n    min_interval: 10m")
    d = only("schedules:\n" + job(trigger='{minute: "*/5"}'), config)
    assert where(d) == ("warning", "too-frequent", 5, 14, "schedules[0].trigger")
    assert d.message == "fires every 5m, more often than the project's min_interval of 10m"
    d = only("schedules:\n" + job(trigger_type="interval", trigger="{every: 30}"), config)
    assert d.message == "fires every 30s, more often than the project's min_interval of 10m"
    assert load("schedules:\n" + job(), config).diagnostics.items == []


def test_folder_that_is_not_a_project() -> None:
    repo = load("schedules:\n" + job(), **{"schedules/acmee/x.yaml": "schedules:\n" + job()})
    [d] = repo.diagnostics.items
    assert (d.code, d.file, d.line) == ("unknown-project", "schedules/acmee/x.yaml", 1)
    assert d.message == "the folder schedules/acmee/ is not a project in schedsync.yaml"
    assert d.fix.startswith("did you mean 'acme'?")


def test_file_directly_in_schedules_is_an_error() -> None:
    repo = load("schedules:\n" + job(), **{"schedules/loose.yaml": "schedules: []\n"})
    [d] = repo.diagnostics.items
    assert (d.code, d.file) == ("misplaced-file", "schedules/loose.yaml")
    assert d.message == (
        "schedules/loose.yaml is directly in schedules/, so it belongs to no project and is "
        "not read"
    )


def test_missing_environment_variable_names_it_not_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCHEDSYNC_TEST_REDIS", raising=False)
    monkeypatch.setenv("SCHEDSYNC_TEST_SECRET", "hunter2")
    config = CONFIG.replace('"redis://127.0.0.1:6379/0"', '"${SCHEDSYNC_TEST_REDIS}"').replace(
        '"sqlite:///b.sqlite"', '"postgresql://u:${SCHEDSYNC_TEST_SECRET}@db/x"')
    column = config.splitlines()[6].index('"${') + 1
    d = only("schedules:\n" + job(), config)
    assert where(d) == ("error", "missing-env", 7, column, "projects.acme.schedulers.beat.url")
    assert d.message == (
        "the environment variable SCHEDSYNC_TEST_REDIS is not set "
        "(used by projects.acme.schedulers.beat.url)"
    )
    assert "hunter2" not in repr(d)


def test_env_default_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHEDSYNC_TEST_REDIS", raising=False)
    config = CONFIG.replace('"redis://127.0.0.1:6379/0"', '"${SCHEDSYNC_TEST_REDIS:-redis://h/1}"')
    repo = load("schedules:\n" + job(), config)
    assert repo.diagnostics.items == []
    assert repo.config is not None
    assert repo.config.projects["acme"].schedulers["beat"].url == "redis://h/1"


def test_config_unknown_field_and_bad_zone() -> None:
    config = CONFIG.replace("    timezone: UTC", "    timezone: Mars/Base\n    schedulrs: {}")
    items = load("schedules:\n" + job(), config).diagnostics.items
    assert [(d.file, d.code, d.line, d.path) for d in items] == [
        ("schedsync.yaml", "invalid-timezone", 4, "projects.acme.timezone"),
        ("schedsync.yaml", "unknown-field", 5, "projects.acme.schedulrs"),
    ]
    assert items[1].fix == "did you mean 'schedulers'?"


def test_config_scheduler_without_type() -> None:
    config = CONFIG.replace("{type: apscheduler, url", "{url")
    [d] = load("schedules:\n" + job(), config).diagnostics.items
    assert (d.code, d.line, d.path) == ("invalid-value", 6, "projects.acme.schedulers.aps")
    assert "needs 'type: celery-beat' or 'type: apscheduler'" in d.message


def test_missing_config_in_files_is_a_diagnostic() -> None:
    repo = load_repository_from_files({FILE: ("schedules:\n" + job()).encode()}, today=TODAY)
    assert [d.code for d in repo.diagnostics.items] == ["missing-config"]
    assert repo.config is None


def test_file_that_is_not_a_schedule_list() -> None:
    d = only("- name: x\n")
    assert where(d) == ("error", "wrong-type", 1, 1, "")
    assert d.message == "a schedule file must be a mapping with a 'schedules' list"


def test_warnings_only_repository_is_valid() -> None:
    repo = load("schedules:\n" + job(trigger='{day_of_month: "1", day_of_week: "mon"}'))
    assert not repo.diagnostics.has_errors
    assert all(d.severity is Severity.WARNING for d in repo.diagnostics.items)
