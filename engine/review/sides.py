"""Reading the two sides of a review: a git ref, or the working tree for the head."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from schedsync.engine.diagnostics import Diagnostic
from schedsync.engine.errors import ConfigError
from schedsync.engine.gitrepo import GitRepo
from schedsync.engine.repository import (
    LoadedRepository,
    load_repository,
    load_repository_from_files,
)

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class Side:
    label: str
    commit: str | None
    repo: LoadedRepository
    files: dict[str, bytes] | None  # None: read lazily from ``root`` (working tree)
    root: Path
    prefix: str  # where the schedule repository sits inside the git repository

    def content(self, file: str) -> bytes | None:
        """The bytes of a schedule-repository-relative file on this side."""
        if self.files is not None:
            return self.files.get(file)
        try:
            return (self.root / file).read_bytes()
        except OSError:
            return None

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """This side's diagnostics with paths from the top of the git repository."""
        return tuple(replace(d, file=self.prefix + d.file) for d in self.repo.diagnostics.items)


def open_git(root: Path) -> GitRepo:
    git = GitRepo.open(root)
    if git is None:
        raise ConfigError(
            f"{root} is not inside a git repository, so there is no --base to compare "
            "with: run `schedsync diff` in a git clone (in CI, check out with fetch-depth 0)"
        )
    return git


def read_ref(git: GitRepo, ref: str) -> Side:
    """The repository as committed at ``ref`` (unknown ref: ``UnknownRef``)."""
    files = git.files_at(ref)
    return Side(ref, _commit_of(git, ref), load_repository_from_files(files), files, git.root,
                git.prefix)


def _commit_of(git: GitRepo, ref: str) -> str:
    import git as gitpython

    with gitpython.Repo(git.top) as repo:
        return str(repo.commit(ref).hexsha)


def read_working_tree(git: GitRepo) -> Side:
    repo = load_repository(git.root, use_cache=False, allow_empty=True)
    return Side(WORKING_TREE, None, repo, None, git.root, git.prefix)
