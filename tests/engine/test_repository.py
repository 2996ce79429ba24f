"""Loading from disk: the one-sentence errors, file discovery and the content-hash cache."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from schedsync.engine.cache import CACHE_DIR, FileCache, dump_schedule, rebuild_schedule
from schedsync.engine.errors import ConfigError
from schedsync.engine.repository import load_repository, load_repository_from_files
from schedsync.engine.spec import canonical_parts, joined_bytes, make_spec, spec_bytes
from schedsync.schemas.schedule import Schedule

CONFIG = """\
version: 1
projects:
  acme:
    schedulers:
      aps: {type: apscheduler, url: "sqlite:///.schedsync/acme.sqlite"}
"""
JOB = """\
schedules:
  - name: {name}
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.run
"""
TODAY = date(2026, 6, 1)


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"schedsync.yaml": CONFIG, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the repository folder .*/nope does not exist: pass"):
        load_repository(tmp_path / "nope")


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no schedsync.yaml: create one"):
        load_repository(tmp_path)


def test_empty_repository_says_how_to_start(tmp_path: Path) -> None:
    make_repo(tmp_path, {})
    with pytest.raises(ConfigError) as caught:
        load_repository(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} has no schedule files: add one as schedules/<project>/<name>.yaml "
        "(a 'schedules:' list; see docs/schedule-format.md and examples/schedules)."
    )
    assert load_repository(tmp_path, allow_empty=True).schedules == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    (tmp_path / "schedules/acme/a.yaml").chmod(0)
    with pytest.raises(ConfigError, match=r"cannot read schedules/acme/a.yaml: Permission denied"):
        load_repository(tmp_path)


def test_unreadable_file_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.name == "a.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as caught:
        load_repository(tmp_path)
    assert str(caught.value) == (
        "cannot read schedules/acme/a.yaml: Permission denied; check its permissions."
    )


def test_dangling_links_and_folders_named_like_files_are_skipped(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    (tmp_path / "schedules/acme/b.yaml").symlink_to(tmp_path / "missing.yaml")
    (tmp_path / "schedules/acme/c.yaml").symlink_to(tmp_path / "schedules")
    repo = load_repository(tmp_path, use_cache=False)  # dangling links and folders are skipped
    assert [r.schedule.name for r in repo.project("acme")] == ["a"]


def test_discovery_reads_yaml_and_yml_but_not_hidden_or_other_files(tmp_path: Path) -> None:
    make_repo(tmp_path, {
        "schedules/acme/a.yaml": JOB.format(name="a"),
        "schedules/acme/b.yml": JOB.format(name="b"),
        "schedules/acme/.c.yaml": JOB.format(name="c"),
        "schedules/acme/README.md": "not yaml",
        "schedules/acme/nested/d.yaml": JOB.format(name="d"),
    })
    repo = load_repository(tmp_path, use_cache=False)
    assert [r.schedule.name for r in repo.project("acme")] == ["a", "b"]
    assert [(d.code, d.file) for d in repo.diagnostics.items] == [
        ("misplaced-file", "schedules/acme/nested/d.yaml")]
    assert set(repo.file_hashes) == {
        "schedsync.yaml", "schedules/acme/a.yaml", "schedules/acme/b.yml",
        "schedules/acme/nested/d.yaml"}


def test_schedules_are_sorted_by_name(tmp_path: Path) -> None:
    text = JOB.format(name="zeta") + JOB.format(name="alpha").removeprefix("schedules:\n")
    make_repo(tmp_path, {"schedules/acme/a.yaml": text})
    repo = load_repository(tmp_path, use_cache=False)
    assert [(r.schedule.name, r.index, r.line) for r in repo.project("acme")] == [
        ("alpha", 1, 7), ("zeta", 0, 2)]


def test_from_files_ignores_paths_outside_the_repository_layout() -> None:
    repo = load_repository_from_files({
        "schedsync.yaml": CONFIG.encode(),
        "schedules/acme/a.yaml": JOB.format(name="a").encode(),
        "README.md": b"# hello",
    }, today=TODAY)
    assert [r.schedule.name for r in repo.project("acme")] == ["a"]
    assert repo.root is None


def test_cache_answers_unchanged_files_and_sees_changes(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a"),
                         "schedules/acme/b.yaml": JOB.format(name="b")})
    first = load_repository(tmp_path, today=TODAY)
    cached = sorted((tmp_path / CACHE_DIR / "files").iterdir())
    assert len(cached) == 2
    second = load_repository(tmp_path, today=TODAY)
    assert [r.spec for r in second.project("acme")] == [r.spec for r in first.project("acme")]
    assert [r.schedule for r in second.project("acme")] == [
        r.schedule for r in first.project("acme")]
    (tmp_path / "schedules/acme/b.yaml").write_text(JOB.format(name="b").replace("0 9", "0 10"))
    third = load_repository(tmp_path, today=TODAY)
    assert third.find("acme", "b").spec["trigger"]["hour"] == "10"  # type: ignore[union-attr]
    assert len(list((tmp_path / CACHE_DIR / "files").iterdir())) == 3


def test_cached_diagnostics_are_reported_again(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a") + "    tigger: 1\n"})
    first = load_repository(tmp_path, today=TODAY).diagnostics.items
    second = load_repository(tmp_path, today=TODAY).diagnostics.items
    assert first == second
    assert [d.code for d in second] == ["unknown-field"]


def test_a_cache_entry_is_used_instead_of_parsing(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    load_repository(tmp_path, today=TODAY)
    [entry] = (tmp_path / CACHE_DIR / "files").iterdir()
    entry.write_bytes(entry.read_bytes().replace(b'"task":"app.run"', b'"task":"app.cached"'))
    assert load_repository(tmp_path, today=TODAY).find("acme", "a").schedule.task == "app.cached"  # type: ignore[union-attr]
    assert load_repository(tmp_path, use_cache=False, today=TODAY).find(  # type: ignore[union-attr]
        "acme", "a").schedule.task == "app.run"


def test_a_corrupt_cache_entry_is_a_miss(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    load_repository(tmp_path, today=TODAY)
    [entry] = (tmp_path / CACHE_DIR / "files").iterdir()
    entry.write_bytes(b"{not json")
    assert load_repository(tmp_path, today=TODAY).find("acme", "a") is not None


def test_a_read_only_repository_still_validates(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    (tmp_path / ".schedsync").write_text("a file where the cache folder would go")
    repo = load_repository(tmp_path, today=TODAY)
    assert repo.find("acme", "a") is not None


@pytest.mark.parametrize(
    "fields",
    [
        {"trigger_type": "cron", "trigger": "0 9 * * 1"},
        {"trigger_type": "cron", "trigger": {"second": "5", "minute": 0}, "timezone": "UTC"},
        {"trigger_type": "interval", "trigger": {"every": 5}, "enabled": False, "priority": 3},
        {"trigger_type": "clocked", "trigger": {"run_at": "2027-01-01T10:00:00+01:00"}},
        {"trigger_type": "solar", "trigger": {"event": "sunset", "latitude": 1, "longitude": 2},
         "args": [1, {"a": "ü"}], "kwargs": {"x": [None]}, "expires": 30, "queue": "q"},
    ],
)
def test_rebuilt_schedule_equals_the_validated_one(fields: dict[str, object]) -> None:
    schedule = Schedule.model_validate({"name": "n", "scheduler": "s", "task": "t", **fields})
    import orjson

    values, fields_set, trigger_set = orjson.loads(orjson.dumps(dump_schedule(schedule)))
    rebuilt = rebuild_schedule(values, fields_set, trigger_set)
    assert rebuilt == schedule
    assert rebuilt.model_fields_set == schedule.model_fields_set
    assert rebuilt.model_dump() == schedule.model_dump()
    assert isinstance(rebuilt.trigger, type(schedule.trigger))


def test_cache_key_depends_on_path_and_content(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    assert cache.key("a.yaml", b"x") != cache.key("b.yaml", b"x")
    assert cache.key("a.yaml", b"x") != cache.key("a.yaml", b"y")
    assert cache.key("a.yaml", b"x") == cache.key("a.yaml", b"x")


def test_cron_memo_keeps_only_todays_dst_findings(tmp_path: Path) -> None:
    text = JOB.format(name="a").replace('"0 9 * * *"', '"30 2 * * *"')
    make_repo(tmp_path, {"schedules/acme/a.yaml": text})
    config = CONFIG.replace("  acme:\n", "  acme:\n    timezone: Europe/Berlin\n")
    (tmp_path / "schedsync.yaml").write_text(config)
    first = load_repository(tmp_path, today=TODAY).diagnostics.items
    assert [d.code for d in first] == ["dst-gap", "dst-overlap"]
    memo = FileCache(tmp_path).load_memo()
    assert {key[3] for key in memo.dst} == {"2026-06-01"}
    again = load_repository(tmp_path, today=TODAY).diagnostics.items
    assert again == first
    load_repository(tmp_path, today=date(2026, 6, 2))
    assert {key[3] for key in FileCache(tmp_path).load_memo().dst} == {"2026-06-02"}


def test_from_files_can_use_a_repository_cache(tmp_path: Path) -> None:
    make_repo(tmp_path, {"schedules/acme/a.yaml": JOB.format(name="a")})
    load_repository(tmp_path, today=TODAY)
    [entry] = (tmp_path / CACHE_DIR / "files").iterdir()
    entry.write_bytes(entry.read_bytes().replace(b'"task":"app.run"', b'"task":"app.cached"'))
    files = {"schedsync.yaml": CONFIG.encode(),
             "schedules/acme/a.yaml": JOB.format(name="a").encode()}
    cached = load_repository_from_files(files, today=TODAY, cache_root=tmp_path)
    assert cached.find("acme", "a").schedule.task == "app.cached"  # type: ignore[union-attr]
    fresh = load_repository_from_files(files, today=TODAY)
    assert fresh.find("acme", "a").schedule.task == "app.run"  # type: ignore[union-attr]


def test_positions_survive_the_cache_packed() -> None:
    from schedsync.engine.validate.schedule_file import pack_positions, unpack_positions

    table = {"": (2, 5), "name": (2, 11), "trigger.hour": (6, 34)}
    assert unpack_positions(pack_positions(table)) == table


def test_cached_schedules_still_point_at_their_lines(tmp_path: Path) -> None:
    text = JOB.format(name="a") + JOB.format(name="a").removeprefix("schedules:\n")
    make_repo(tmp_path, {"schedules/acme/a.yaml": text})
    first = load_repository(tmp_path, today=TODAY).diagnostics.items
    second = load_repository(tmp_path, today=TODAY).diagnostics.items  # from the cache
    assert [(d.code, d.line, d.column) for d in second] == [
        ("duplicate-name", 2, 11), ("duplicate-name", 7, 11)]
    assert second == first


def test_cached_canonical_text_is_the_specs_bytes(tmp_path: Path) -> None:
    """The planner takes a cached schedule's canonical bytes from the file cache: they
    must be exactly ``spec_bytes`` of the spec, with the zone the config gives it."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "schedules"
    root = tmp_path / "repo"
    shutil.copytree(examples, root, ignore=shutil.ignore_patterns(".schedsync"))
    cold = load_repository(root)
    assert all(rs.canonical is None for items in cold.schedules.values() for rs in items)
    warm = load_repository(root)
    loaded = [rs for items in warm.schedules.values() for rs in items]
    assert len(loaded) >= 18
    assert all(rs.canonical is not None for rs in loaded)
    assert [rs.spec_bytes() for rs in loaded] == [spec_bytes(rs.spec) for rs in loaded]
    assert len({rs.spec["timezone"] for rs in loaded}) > 1  # zones from the config vary


@pytest.mark.parametrize("spec", [
    make_spec(name="a", trigger_type="interval", trigger={"every": 5, "period": "seconds"},
              task="t", kwargs={"timezone": None, "trigger": {"x": 1}}),
    make_spec(name="ünï \"q\"", trigger_type="cron", trigger={"minute": "0"}, task="t",
              args=[1.5, -0.0, "\\u00e9", {"z": 1, "a": [True, None]}], description="x\ny"),
    make_spec(name="c", trigger_type="clocked", trigger={"run_at": "2030-01-02T03:04:05Z"},
              task="t", queue="q", priority=3, expires=60.0),
])
@pytest.mark.parametrize("zone", [None, "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_canonical_parts_join_to_spec_bytes(spec: dict[str, object], zone: str | None) -> None:
    parts = canonical_parts({**spec, "timezone": None})
    assert parts is not None
    assert joined_bytes(parts, zone) == spec_bytes({**spec, "timezone": zone})
