"""Loading a schedule repository: ``schedsync.yaml`` plus ``schedules/<project>/*.yaml``.

``load_repository`` is what every command and the server call; it always returns every
problem it found (``diagnostics``) together with the schedules that are valid, and
raises ``ConfigError`` only when there is no repository to speak of (missing folder,
missing ``schedsync.yaml``, an unreadable file, no schedule files at all).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from schedsync.engine.cache import FileCache, content_hash
from schedsync.engine.config import CONFIG_NAME, SCHEDULES_DIR
from schedsync.engine.diagnostics import Diagnostic, Diagnostics, Severity
from schedsync.engine.errors import ConfigError
from schedsync.engine.loader import load_document
from schedsync.engine.spec import CanonicalParts, Spec, joined_bytes, spec_bytes
from schedsync.engine.validate.config_file import check_config
from schedsync.engine.validate.context import Accepted, CronMemo, check_context
from schedsync.engine.validate.schedule_file import FileResult, check_schedule_file
from schedsync.schemas.config import RepoConfig
from schedsync.schemas.schedule import Schedule

SCHEDULE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RepoSchedule:
    project: str
    schedule: Schedule
    spec: Spec
    file: str
    index: int
    line: int
    # ``spec``'s canonical text around its zone, from the file cache (None: not cached).
    canonical: CanonicalParts | None = None

    def spec_bytes(self) -> bytes:
        """``spec_bytes(self.spec)``, from the cached text when there is some."""
        if self.canonical is None:
            return spec_bytes(self.spec)
        return joined_bytes(self.canonical, self.spec["timezone"])


@dataclass
class LoadedRepository:
    root: Path | None
    config: RepoConfig | None
    schedules: dict[str, list[RepoSchedule]]
    diagnostics: Diagnostics
    file_hashes: dict[str, str] = field(default_factory=dict)

    def project(self, slug: str) -> list[RepoSchedule]:
        return self.schedules.get(slug, [])

    def find(self, slug: str, name: str) -> RepoSchedule | None:
        for item in self.schedules.get(slug, []):
            if item.schedule.name == name:
                return item
        return None


def load_repository(
    root: Path,
    *,
    use_cache: bool = True,
    today: date | None = None,
    allow_empty: bool = False,
) -> LoadedRepository:
    """Read and validate the repository at ``root``.

    ``allow_empty`` accepts a repository with no schedule files yet (``import`` into a
    fresh repository); otherwise that is a ``ConfigError`` saying how to start.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"the repository folder {root} does not exist: pass --repo with the folder "
            f"that holds {CONFIG_NAME}."
        )
    if not (root / CONFIG_NAME).is_file():
        raise ConfigError(
            f"{root} has no {CONFIG_NAME}: create one (see docs/schedule-format.md) or "
            "pass --repo with the folder of your schedule repository."
        )
    files = _read_files(root)
    if not allow_empty and not any(name != CONFIG_NAME for name in files):
        raise ConfigError(
            f"{root} has no schedule files: add one as {SCHEDULES_DIR}/<project>/<name>.yaml "
            "(a 'schedules:' list; see docs/schedule-format.md and examples/schedules)."
        )
    cache = FileCache(root) if use_cache else None
    return _load(files, root, cache, today)


def load_repository_from_files(
    files: Mapping[str, bytes], *, today: date | None = None, cache_root: Path | None = None
) -> LoadedRepository:
    """Validate a repository given as ``{repo-relative posix path: bytes}`` (git blobs,
    or a candidate state before a write).

    ``cache_root``: a repository folder whose ``.schedsync/cache/`` may answer unchanged
    files (entries are keyed by path and content, so any bytes are safe to look up):
    re-validating a large repository after one edit then costs a fraction of a full run.
    """
    wanted = {
        name: content
        for name, content in files.items()
        if name == CONFIG_NAME or name.startswith(f"{SCHEDULES_DIR}/")
    }
    cache = FileCache(cache_root) if cache_root is not None else None
    return _load(wanted, None, cache, today)


def _read_files(root: Path) -> dict[str, bytes]:
    paths = [root / CONFIG_NAME]
    folder = root / SCHEDULES_DIR
    if folder.is_dir():
        paths.extend(
            path
            for path in sorted(folder.rglob("*"))
            if path.suffix in SCHEDULE_SUFFIXES
            and not _hidden(path.relative_to(root))
            and path.is_file()
        )
    files = {}
    for path in paths:
        name = path.relative_to(root).as_posix()
        try:
            files[name] = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read {name}: {exc.strerror or exc}; check its permissions."
            ) from None
    return files


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Building 100k small objects triggers the cyclic GC over and over for nothing
    (they form no cycles): it doubles load time (PERFORMANCE.md). Afterwards the
    survivors are frozen out of the collector's view, or the first collection after
    re-enabling it walks them all; being acyclic, they are still freed by reference
    counting when dropped. (Cyclic garbage alive at the freeze is kept: a long-running
    process such as the server collects it now and then, ``server.context``.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _load(
    files: Mapping[str, bytes],
    root: Path | None,
    cache: FileCache | None,
    today: date | None,
) -> LoadedRepository:
    diagnostics = Diagnostics()
    hashes = {name: content_hash(content) for name, content in files.items()}
    config = _config(files, diagnostics)
    results: dict[str, FileResult] = {}
    with _no_gc():
        for name in sorted(files):
            if name == CONFIG_NAME:
                continue
            misplaced = _misplaced(name)
            if misplaced is not None:
                diagnostics.add(misplaced)
                continue
            results[name] = _check_file(name, files[name], cache)
            diagnostics.extend(results[name].diagnostics)
        schedules: dict[str, list[RepoSchedule]] = {}
        if config is not None:
            day = today or date.today()
            memo = cache.load_memo() if cache is not None else CronMemo()
            memo.forget_other_days(day)
            accepted, found = check_context(config, results, day, memo)
            diagnostics.extend(found)
            schedules = _repo_schedules(accepted)
            if cache is not None:
                cache.save_memo(memo)
    diagnostics.items.sort(key=Diagnostic.sort_key)
    return LoadedRepository(root, config, schedules, diagnostics, hashes)


def _config(files: Mapping[str, bytes], diagnostics: Diagnostics) -> RepoConfig | None:
    content = files.get(CONFIG_NAME)
    if content is None:
        diagnostics.add(
            Diagnostic(
                Severity.ERROR,
                "missing-config",
                CONFIG_NAME,
                0,
                0,
                "",
                f"there is no {CONFIG_NAME}",
                f"a {CONFIG_NAME} at the repository root",
                "nothing",
                f"create {CONFIG_NAME} (see docs/schedule-format.md)",
            )
        )
        return None
    config, found = check_config(load_document(content, CONFIG_NAME))
    diagnostics.extend(found)
    return config


def _misplaced(name: str) -> Diagnostic | None:
    parts = name.split("/")
    if len(parts) == 3:
        return None
    where = "directly in schedules/" if len(parts) == 2 else "in a nested folder"
    return Diagnostic(
        Severity.ERROR,
        "misplaced-file",
        name,
        1,
        1,
        "",
        f"{name} is {where}, so it belongs to no project and is not read",
        "schedules/<project>/<file>.yaml",
        name,
        f"move it into the folder of its project, e.g. schedules/acme/{parts[-1]}",
    )


def _check_file(name: str, content: bytes, cache: FileCache | None) -> FileResult:
    key = cache.key(name, content) if cache is not None else ""
    if cache is not None:
        cached = cache.get(key)
        if cached is not None:
            return cached
    result = check_schedule_file(load_document(content, name))
    if cache is not None:
        cache.put(key, result)
    return result


def _repo_schedules(accepted: list[Accepted]) -> dict[str, list[RepoSchedule]]:
    out: dict[str, list[RepoSchedule]] = {}
    for item in accepted:
        schedule = item.parsed.schedule
        out.setdefault(item.project, []).append(
            RepoSchedule(
                project=item.project,
                schedule=schedule,
                spec=_with_timezone(item.parsed.spec, item.timezone),
                file=item.file,
                index=item.parsed.index,
                line=item.parsed.line,
                canonical=item.parsed.canonical,
            )
        )
    for items in out.values():
        items.sort(key=lambda r: r.schedule.name)
    return out


def _with_timezone(spec: Spec, timezone: str) -> Spec:
    # Each load builds its own ParsedSchedules, so their spec can be completed in place.
    spec["timezone"] = timezone
    return spec
