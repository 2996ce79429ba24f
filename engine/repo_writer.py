"""The one place that changes schedule files: atomic files, one commit, all or nothing.

Every writer (REST server, ``import``, ``resync --direction scheduler_to_repo``) goes
through ``RepoWriter.write`` under ``RepoWriter.lock``: a thread lock plus an ``flock``
on ``<root>/.schedsync/write.lock``, so that concurrent writers in one process or many
never interleave a read-modify-write and never lose an update. A caller that reads a
file to compute its edit must hold the lock around the read and the write (or use
``RepoWriter.update``, which does).

A write is journaled (``engine/write_journal.py``) before it touches a file. Whoever
next takes the lock (or opens the workspace) and finds the journal of a writer that
died finishes it: a write that had committed is kept, any other is undone, and an
``index.lock`` its killed ``git`` left behind is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from schedsync.engine import write_journal
from schedsync.engine.errors import FatalError, LockHeld
from schedsync.engine.gitrepo import GitLocked, GitRepo
from schedsync.schemas.schedule import NAME_PATTERN

__all__ = ["FileEdit", "RepoWriter", "UnsafePath", "WriteResult"]

LOCK_PATH = ".schedsync/write.lock"
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_NAME = re.compile(NAME_PATTERN)
_SUFFIXES = (".yaml", ".yml")
_FILE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@:+-]*")
_LOCK_TIMEOUT = 120.0
# Filesystem and wall clocks disagree by up to a timestamp granule: an index.lock made
# this long before the journal still counts as made during its write.
_CLOCK_SLACK = 2.0
_log = logging.getLogger("schedsync.repo_writer")


class UnsafePath(FatalError):
    """A path that would leave ``schedules/<project>/`` (or the repository)."""


@dataclass(frozen=True)
class FileEdit:
    """New text for ``path`` (relative to the repository root); None deletes the file."""

    path: str
    new_text: str | None


@dataclass(frozen=True)
class WriteResult:
    """``commit`` is None when no file changed (or the root is not a git work tree)."""

    commit: str | None
    paths: tuple[str, ...]
    pushed: bool = False
    # The push was rebased onto other commits: the checkout now holds more than this
    # write (callers that keep the repository in memory must re-read it).
    rebased: bool = False


class _RootLock:
    """Reentrant for its owner thread; the flock is taken once, at the outermost level."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None
        self.swept = False  # journal temp files of killed writers cleared (once a process)

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        if not self.rlock.acquire(timeout=timeout):
            raise LockHeld(_lock_message(self.path, timeout))
        try:
            if self.depth == 0:
                self.fd = _flock(self.path, timeout)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0 and self.fd is not None:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                    os.close(self.fd)
                    self.fd = None
        finally:
            self.rlock.release()


_LOCKS: dict[Path, _RootLock] = {}
_LOCKS_GUARD = threading.Lock()


def _root_lock(root: Path) -> _RootLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(root, _RootLock(root / LOCK_PATH))


_GITS: dict[Path, GitRepo] = {}


def _open_git(root: Path) -> GitRepo | None:
    """One GitRepo per root per process: a server makes a RepoWriter per request."""
    with _LOCKS_GUARD:
        known = _GITS.get(root)
    if known is not None and known.git_dir.is_dir():
        return known
    git = GitRepo.open(root)  # a subprocess: done once, not on every write
    if git is not None:
        with _LOCKS_GUARD:
            _GITS[root] = git
    return git


def _flock(path: Path, timeout: float) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():  # local machinery (lock, state db), never committed
        with contextlib.suppress(OSError):
            ignore.write_text("# created by schedsync: this folder is local state\n*\n")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockHeld(_lock_message(path, timeout)) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


def _lock_message(path: Path, timeout: float) -> str:
    return (
        f"another schedsync writer held {path} for over {timeout:.0f} s; "
        "retry, or find the stuck process with `fuser` and stop it"
    )


class RepoWriter:
    """Writes schedule files of the repository at ``root`` and commits them."""

    def __init__(self, root: Path, *, lock_timeout: float = _LOCK_TIMEOUT) -> None:
        self.root = Path(root).resolve()
        self.git = _open_git(self.root)
        self._lock = _root_lock(self.root)
        self._timeout = lock_timeout

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise writers across threads and processes (reentrant in one thread).

        Taking it at the outermost level first finishes a write that a killed writer
        left half-done (one ``stat`` when there is none)."""
        with self._lock.hold(self._timeout):
            if self._lock.depth == 1:
                self.recover()
            yield

    def recover_if_idle(self) -> None:
        """Recover a dead writer's journal now, unless a writer is busy (then it will)."""
        if not write_journal.exists(self.root):
            return
        try:
            with self._lock.hold(0):
                if self._lock.depth == 1:
                    self.recover()
        except LockHeld:
            pass  # a live writer holds the lock (or owns the journal): it finishes it
        except (FatalError, OSError) as exc:
            # Reading may go on; the next write retries the recovery and reports it.
            _log.warning("could not recover an interrupted write in %s: %s", self.root, exc)

    def read_text(self, path: str) -> str | None:
        """The current text of ``path`` (None when absent); hold ``lock()`` to edit it."""
        try:
            return self._abs(path).read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None

    def update(
        self,
        path: str,
        transform: Callable[[str | None], str | None],
        message: str,
        *,
        author_name: str,
        author_email: str,
        push: bool = True,
    ) -> WriteResult:
        """Read ``path``, apply ``transform`` and write the result, all under the lock."""
        with self.lock():
            new_text = transform(self.read_text(path))
            return self.write(
                [FileEdit(path, new_text)],
                message,
                author_name=author_name,
                author_email=author_email,
                push=push,
            )

    def write(
        self,
        edits: list[FileEdit],
        message: str,
        *,
        author_name: str,
        author_email: str,
        push: bool = True,
    ) -> WriteResult:
        """Write every edit atomically, commit once, push if a remote is configured.

        On any failure every file gets its previous bytes back and the commit (if made)
        is undone; then the error propagates.
        """
        with self.lock():
            targets = {self._rel(edit.path): edit.new_text for edit in edits}
            before = {path: self._read_bytes(path) for path in targets}
            changed = [
                path
                for path, text in targets.items()
                if (None if text is None else text.encode("utf-8")) != before[path]
            ]
            if not changed:
                return WriteResult(None, ())
            return self._write_changed(
                changed, targets, before, message, author_name, author_email, push
            )

    def _write_changed(
        self,
        changed: list[str],
        targets: dict[str, str | None],
        before: dict[str, bytes | None],
        message: str,
        author_name: str,
        author_email: str,
        push: bool,
    ) -> WriteResult:
        git = self.git
        previous = git.head() if git is not None else None
        created: list[Path] = []
        committed = False
        self._journal(changed, targets, before, previous)
        try:
            for path in changed:
                text = targets[path]
                self._put(path, None if text is None else text.encode("utf-8"), created)
            if git is None:
                return WriteResult(None, tuple(changed))
            commit = git.commit_paths(
                changed, message, author_name=author_name, author_email=author_email
            )
            committed = commit is not None
            pushed = rebased = False
            if committed and push and git.has_push_remote():
                git.push()
                pushed = True
                made, commit = commit, git.head()
                rebased = commit != made
            write_journal.remove(self.root)
            return WriteResult(commit, tuple(changed), pushed, rebased)
        except BaseException:
            self._rollback(changed, before, created, previous, committed)
            write_journal.remove(self.root)  # kept when the rollback fails: recovered later
            raise

    def _journal(
        self,
        changed: list[str],
        targets: dict[str, str | None],
        before: dict[str, bytes | None],
        previous: str | None,
    ) -> None:
        files = tuple(
            write_journal.JournalFile(
                path,
                before[path],
                write_journal.digest(None if targets[path] is None
                                     else str(targets[path]).encode("utf-8")),
            )
            for path in changed
        )
        folders: list[str] = []
        for path in changed:
            for parent in reversed(PurePosixPath(path).parents):
                name = parent.as_posix()
                if name != "." and name not in folders and not (self.root / name).exists():
                    folders.append(name)
        journal = write_journal.Journal(
            write_journal.this_process(), write_journal.now(), previous, files, tuple(folders)
        )
        write_journal.write(self.root, journal)

    # -- recovery ----------------------------------------------------------------------

    def recover(self) -> None:
        """Finish a write whose writer died; hold ``lock()`` (it does this itself).

        Committed (HEAD moved past the journal's HEAD and holds the new bytes): keep it.
        Otherwise put back the old bytes of the journal's files, remove the folders it
        created and reset those paths in the index. Nothing else is touched: other
        uncommitted work in the checkout stays. A live owner is left alone (LockHeld)."""
        if not self._lock.swept:
            write_journal.remove_leftovers(self.root)
            self._lock.swept = True
        try:
            journal = write_journal.read(self.root)
        except ValueError as exc:
            aside = self.root / (write_journal.JOURNAL + ".unreadable")
            os.replace(self.root / write_journal.JOURNAL, aside)
            _log.warning("%s; moved it to %s, check the schedule files by hand", exc, aside)
            return
        if journal is None:
            return
        owner = journal.owner
        if write_journal.owner_alive(journal):
            raise LockHeld(
                f"process {owner.pid} on {owner.host} is in the middle of a write to "
                f"{', '.join(journal.paths)} ({self.root / write_journal.JOURNAL}); "
                "retry when it has finished"
            )
        paths = [self._rel(path) for path in journal.paths]
        self._clear_index_lock(journal)
        committed = self._committed(journal)
        if not committed:
            for item in journal.files:
                self._put(item.path, item.old, [])
            for folder in reversed(journal.folders):
                with contextlib.suppress(OSError):
                    (self.root / self._rel(folder)).rmdir()
        self._remove_temp_files(paths)
        if self.git is not None:
            self.git.unstage(paths)  # the index may hold the change, staged or half-made
        write_journal.remove(self.root)
        _log.warning(
            "recovered a write interrupted in process %s on %s (started %s): %s %s",
            owner.pid, owner.host,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(journal.created)),
            "it had committed; kept" if committed else "not committed; restored",
            ", ".join(paths),
        )

    def _committed(self, journal: write_journal.Journal) -> bool:
        git = self.git
        head = git.head() if git is not None else None
        if git is None or head is None or head == journal.head:
            return False
        at_head = git.files_at("HEAD", tuple(journal.paths))
        return all(
            write_journal.digest(at_head.get(item.path)) == item.new_sha256
            for item in journal.files
        )

    def _clear_index_lock(self, journal: write_journal.Journal) -> None:
        """Remove the index.lock of a git command killed with the journal's writer."""
        git = self.git
        if git is None:
            return
        try:
            made = git.index_lock.stat().st_mtime
        except FileNotFoundError:
            return
        if made < journal.created - _CLOCK_SLACK:
            return  # there before the write began: not ours (a later git call says so)
        if git.git_running_here():
            raise GitLocked(git.locked_message())
        with contextlib.suppress(FileNotFoundError):
            git.index_lock.unlink()
        _log.warning("removed %s left by a git command killed during a write", git.index_lock)

    def _remove_temp_files(self, paths: list[str]) -> None:
        """The temp files of ``_put`` that a kill left next to the journal's files."""
        for path in paths:
            target = self._abs(path)
            start = f".{target.name}."
            with contextlib.suppress(OSError):  # the folder may be gone
                for leftover in target.parent.iterdir():
                    if leftover.name.startswith(start) and leftover.name.endswith(".tmp"):
                        with contextlib.suppress(OSError):
                            leftover.unlink()

    def _rollback(
        self,
        changed: list[str],
        before: dict[str, bytes | None],
        created: list[Path],
        previous: str | None,
        committed: bool,
    ) -> None:
        if self.git is not None:
            if committed:
                self.git.undo_commit(previous, changed)
            else:
                self.git.unstage(changed)
        for path in changed:
            self._put(path, before[path], [])
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()

    # -- files -----------------------------------------------------------------------

    def _read_bytes(self, path: str) -> bytes | None:
        try:
            return self._abs(path).read_bytes()
        except FileNotFoundError:
            return None

    def _put(self, path: str, data: bytes | None, created: list[Path]) -> None:
        """Atomically replace (or delete) one file: temp file in the same folder."""
        target = self._abs(path)
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            return
        missing = [p for p in reversed(target.parents) if not p.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        created.extend(missing)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            # No fsync: the commit that follows is the durable record, and git itself
            # does not fsync by default either (fsync here cost ~18 ms a write).
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _abs(self, path: str) -> Path:
        return self.root / self._rel(path)

    def _rel(self, path: str) -> str:
        """Check a repository-relative path; returns it in normal POSIX form."""
        if "\0" in path or not path or "\\" in path:
            raise UnsafePath(
                f"invalid file path {path!r}: use a relative path like schedules/acme/x.yaml"
            )
        pure = PurePosixPath(path)
        if pure.is_absolute() or any(part in ("..", ".git") for part in pure.parts):
            raise UnsafePath(
                f"file path {path!r} leaves the schedule repository; "
                "use a path relative to it without '..' (e.g. schedules/acme/email.yaml)"
            )
        full = (self.root / pure).resolve()
        if not full.is_relative_to(self.root):
            raise UnsafePath(f"file path {path!r} resolves outside {self.root} (a symlink?)")
        return pure.as_posix()

    # -- where schedules go ----------------------------------------------------------

    def safe_schedule_path(self, project: str, file: str | None, name: str) -> Path:
        """The file (relative to the root) that schedule ``name`` of ``project`` goes to.

        Default ``schedules/<project>/<first segment of the name>.yaml``; a given
        ``file`` (``email.yaml`` or ``schedules/<project>/email.yaml``) must stay inside
        ``schedules/<project>/`` and end in ``.yaml`` or ``.yml``.
        """
        if not isinstance(project, str) or not _PROJECT.fullmatch(project):
            raise UnsafePath(
                f"project slug {project!r} is invalid: use letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        folder = PurePosixPath("schedules", project)
        if file is None:
            if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 200:
                raise UnsafePath(
                    f"schedule name {name!r} is invalid: 1-200 characters matching {NAME_PATTERN}"
                )
            return self._inside(folder, PurePosixPath(name.split(".", 1)[0] + ".yaml"), file)
        return self._inside(folder, self._file_part(folder, file), file)

    def _file_part(self, folder: PurePosixPath, file: str) -> PurePosixPath:
        if not isinstance(file, str) or not file or "\0" in file or "\\" in file:
            raise UnsafePath(
                f"file {file!r} is invalid: give a file name such as 'email.yaml' "
                f"(stored under {folder}/)"
            )
        pure = PurePosixPath(file)
        if not pure.parts:  # ".", "./": the folder itself, no file name at all
            raise UnsafePath(
                f"file {file!r} names no file: give a file name such as 'email.yaml' "
                f"(stored under {folder}/)"
            )
        if pure.is_absolute():
            raise UnsafePath(f"file {file!r} must be relative to {folder}/, not absolute")
        if pure.parts[:2] == folder.parts and len(pure.parts) > 2:  # the long form
            pure = PurePosixPath(*pure.parts[2:])
        elif pure.parts[0] == "schedules":
            raise UnsafePath(
                f"file {file!r} is not inside {folder}/: a schedule of this project "
                f"must live in {folder}/ (give e.g. 'email.yaml')"
            )
        if any(part.startswith(".") for part in file.split("/")):
            raise UnsafePath(
                f"file {file!r} must stay inside {folder}/: no '..', '.' or hidden parts"
            )
        if not all(_FILE_PART.fullmatch(part) for part in pure.parts):
            raise UnsafePath(
                f"file {file!r} has characters schedsync does not put in file names: "
                "use letters, digits and . _ - @ + :"
            )
        if pure.suffix not in _SUFFIXES:
            raise UnsafePath(f"file {file!r} must end in .yaml or .yml")
        return pure

    def _inside(self, folder: PurePosixPath, rel: PurePosixPath, file: str | None) -> Path:
        path = folder / rel
        base = (self.root / folder).resolve()
        full = (self.root / path).resolve()
        if not base.is_relative_to(self.root) or not full.is_relative_to(base):
            raise UnsafePath(
                f"file {file or path.name!r} resolves outside {folder}/ (a symlink?); "
                "schedule files must live in the project's folder"
            )
        return Path(path)
