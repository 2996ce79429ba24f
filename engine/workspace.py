"""A workspace: one schedule repository with its state file and scheduler stores.

The CLI and the server both open one and call the same engine functions on it. The
state file and the adapters are opened lazily: ``validate`` and ``diff`` never touch
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from schedsync.engine.config import CONFIG_NAME, find_repo_root
from schedsync.engine.errors import ConfigError, NotFound, ValidationFailed
from schedsync.engine.repository import (
    LoadedRepository,
    RepoSchedule,
    load_repository,
    load_repository_from_files,
)

if TYPE_CHECKING:
    from schedsync.engine.adapters.base import SchedulerAdapter
    from schedsync.engine.state import StateStore
    from schedsync.schemas.config import ProjectConfig, RepoConfig, SchedulerConfig

_SHOWN_ERRORS = 5


@dataclass
class Workspace:
    root: Path
    repo: LoadedRepository
    _state: StateStore | None = None
    _adapters: dict[tuple[str, str], SchedulerAdapter] = field(default_factory=dict)
    # A server's workspace lives on: what its plans build is garbage after the request,
    # so they must not freeze it out of the collector's view as a CLI command may.
    long_lived: bool = False

    @classmethod
    def open(cls, root: Path | None = None, *, allow_invalid: bool = False) -> Workspace:
        repo_root = find_repo_root(root)
        _recover_interrupted_write(repo_root)
        repo = load_repository(repo_root)
        if repo.diagnostics.has_errors and not allow_invalid:
            raise ValidationFailed(_errors_summary(repo))
        if repo.config is None:
            raise ValidationFailed(_errors_summary(repo))
        return cls(repo_root, repo)

    @classmethod
    def open_config(cls, root: Path | None = None) -> Workspace:
        """The repository's ``schedsync.yaml`` alone, no schedule files read: for what
        needs only the config and the state file (``state check``, ``state unlock``),
        which must work whatever the schedules are, broken or not written yet."""
        repo_root = find_repo_root(root)
        try:
            content = (repo_root / CONFIG_NAME).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read {CONFIG_NAME}: {exc.strerror or exc}; check its permissions."
            ) from None
        repo = load_repository_from_files({CONFIG_NAME: content})
        repo.root = repo_root
        if repo.config is None:
            raise ValidationFailed(_errors_summary(repo))
        return cls(repo_root, repo)

    @property
    def config(self) -> RepoConfig:
        if self.repo.config is None:
            raise ConfigError(f"{self.root / 'schedsync.yaml'} could not be read")
        return self.repo.config

    @property
    def state(self) -> StateStore:
        if self._state is None:
            from schedsync.engine.state import StateStore

            self._state = StateStore.open(self.config.state, self.root)
        return self._state

    def project_config(self, project: str) -> ProjectConfig:
        config = self.config.projects.get(project)
        if config is None:
            known = ", ".join(sorted(self.config.projects)) or "none"
            raise NotFound(f"no project {project!r} in schedsync.yaml (projects: {known})")
        return config

    def scheduler_config(self, project: str, scheduler: str) -> SchedulerConfig:
        schedulers = self.project_config(project).schedulers
        if scheduler not in schedulers:
            known = ", ".join(sorted(schedulers)) or "none"
            raise NotFound(
                f"project {project!r} has no scheduler {scheduler!r} (schedulers: {known})"
            )
        return schedulers[scheduler]

    def adapter(self, project: str, scheduler: str) -> SchedulerAdapter:
        key = (project, scheduler)
        if key not in self._adapters:
            from schedsync.engine.adapters import open_adapter

            self._adapters[key] = open_adapter(self.scheduler_config(project, scheduler), self.root)
        return self._adapters[key]

    def projects(self, only: str | None = None) -> list[str]:
        if only is not None:
            self.project_config(only)
            return [only]
        return sorted(self.config.projects)

    def schedulers(self, project: str, only: str | None = None) -> list[str]:
        if only is not None:
            self.scheduler_config(project, only)
            return [only]
        return sorted(self.project_config(project).schedulers)

    def narrowed(self, project: str, schedules: list[RepoSchedule]) -> Workspace:
        """This workspace seeing only ``schedules`` of ``project``, with the same state
        file and stores: planning a single-schedule apply then does not walk every
        schedule of the project (three passes over 10k cost ~50 ms)."""
        repo = self.repo
        view = LoadedRepository(repo.root, repo.config, {project: schedules},
                                repo.diagnostics, repo.file_hashes)
        return Workspace(self.root, view, self.state, self._adapters)

    def reload(self) -> None:
        """Re-read the repository (after a write)."""
        self.repo = load_repository(self.root)

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()
        if self._state is not None:
            self._state.close()
            self._state = None


def _recover_interrupted_write(root: Path) -> None:
    """A write killed half-way may have left its YAML edit in the worktree: undo it
    before anyone reads (and serves or applies) it. One ``stat`` when there is none."""
    from schedsync.engine import write_journal

    if write_journal.exists(root):
        from schedsync.engine.repo_writer import RepoWriter

        RepoWriter(root).recover_if_idle()


def _errors_summary(repo: LoadedRepository) -> str:
    errors = repo.diagnostics.errors
    lines = [f"the repository has {len(errors)} error(s); nothing was changed."]
    for diagnostic in errors[:_SHOWN_ERRORS]:
        where = f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}"
        lines.append(f"  {where}: {diagnostic.message}")
    if len(errors) > _SHOWN_ERRORS:
        lines.append(f"  ... and {len(errors) - _SHOWN_ERRORS} more.")
    lines.append("Run `schedsync validate` to see every problem with how to fix it.")
    return "\n".join(lines)
