"""The git side of the schedule repository: read blobs at a ref, commit, push.

Plain ``git`` subprocesses rather than GitPython's index: ``git commit -- path`` is
~3x faster per write (PERFORMANCE.md) and uses the user's own git with its config. The
schedule repository may be a folder inside a bigger git repository; every path given to
or returned by this class is relative to the schedule repository root (``self.root``).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from schedsync.engine.errors import FatalError

__all__ = ["GitError", "GitLocked", "GitRepo", "PushRejected", "UnknownRef"]

DEFAULT_PREFIXES: tuple[str, ...] = ("schedsync.yaml", "schedules/")
_FALSE = frozenset({"false", "no", "off", "0"})
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_LOCATE = ("--path-format=absolute", "--show-toplevel", "--absolute-git-dir", "--git-common-dir")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_PUSH_ATTEMPTS = 3
_INDEX_LOCK_WAIT = 5.0
_FALLBACK_COMMITTER = ("schedsync", "schedsync@localhost")
# ``git commit`` starts ``git maintenance run --auto`` after every commit: a second
# process per write (~1.5 ms) that almost always finds nothing to do (gc.auto waits for
# 6,700 loose objects; a write makes 4). We run that same check once every so many
# commits instead, unless the repository turned automatic maintenance off.
MAINTENANCE_EVERY = 50


class GitError(FatalError):
    """A git command failed; the message carries git's own explanation."""


class UnknownRef(GitError):
    """``diff --base REF`` named a ref that this clone does not have."""


class PushRejected(GitError):
    """The remote kept refusing our commit; the checkout was left clean."""


class GitLocked(GitError):
    """Another git process holds ``index.lock`` (the API answers 409 conflict)."""


class GitRepo:
    """A schedule repository that lives in a git work tree."""

    def __init__(self, root: Path, top: Path, git_dir: Path, common_dir: Path) -> None:
        self.root = root
        self.top = top
        rel = root.relative_to(top).as_posix()
        self.prefix = "" if rel == "." else rel + "/"
        self.git_dir = git_dir
        self.common_dir = common_dir
        self._committer: dict[str, str] | None = None
        self._config_cache: tuple[tuple[int, int], dict[str, str]] | None = None
        self._commits = 0  # by this object: when to run maintenance

    @classmethod
    def open(cls, root: Path) -> GitRepo | None:
        """The git work tree holding ``root``, or None when there is none."""
        root = Path(root).resolve()
        try:
            out = subprocess.run(
                ["git", "rev-parse", *_LOCATE],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
                env=_git_env(),
            )
        except (FileNotFoundError, NotADirectoryError):
            return None
        lines = out.stdout.splitlines()
        if out.returncode != 0 or len(lines) != 3:
            return None
        top, git_dir, common = (Path(line).resolve() for line in lines)
        return cls(root, top, git_dir, common)

    # -- plumbing ------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        check: bool = True,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        deadline = time.monotonic() + _INDEX_LOCK_WAIT
        while True:
            result = subprocess.run(
                ["git", *args],
                cwd=self.top,
                capture_output=True,
                input=input,
                check=False,
                env=_git_env(env),
            )
            # Someone ran git in this checkout at the same moment: wait for them.
            if b"index.lock" not in result.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if check and result.returncode != 0:
            raise self._failure(args[0], result)
        return result

    def _failure(self, command: str, result: subprocess.CompletedProcess[bytes]) -> GitError:
        if b"index.lock" in result.stderr:
            return GitLocked(self.locked_message())
        detail = _text(result.stderr) or _text(result.stdout)
        return GitError(f"git {command} failed in {self.top}: {detail}")

    @property
    def index_lock(self) -> Path:
        return self.git_dir / "index.lock"

    def locked_message(self) -> str:
        try:
            shown = self.index_lock.relative_to(self.top).as_posix()
        except ValueError:
            shown = "index.lock in the git directory"
        return (
            f"the schedule repository is busy: another git command holds {shown} "
            f"(waited {_INDEX_LOCK_WAIT:.0f} s). Retry in a moment; if no git command "
            f"is running in that checkout, a crashed one left the lock: delete {shown}"
        )

    def git_running_here(self) -> bool:
        """Whether a git process of ours works in this checkout (Linux /proc; other
        systems answer False). Used before removing an index.lock left by a crash."""
        top = str(self.top)
        me = os.getpid()
        try:
            entries = os.listdir("/proc")
        except OSError:
            return False
        for entry in entries:
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() != "git":
                    continue
                args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:  # gone, or another user's process
                continue
            # Long-lived readers (GitPython keeps `git cat-file --batch` open) never
            # lock the index.
            if b"cat-file" in args:
                continue
            if cwd == top or cwd.startswith(top + "/"):
                return True
        return False

    def _full(self, path: str) -> str:
        return self.prefix + path

    def _local(self, full: str) -> str:
        return full[len(self.prefix) :]

    # -- reads ---------------------------------------------------------------------

    def head(self) -> str | None:
        """HEAD's commit sha; read from the ref files (a subprocess costs ~5-20 ms)."""
        try:
            head = (self.git_dir / "HEAD").read_text().strip()
            if not head.startswith("ref: "):
                return head if _SHA.fullmatch(head) else self._rev_parse_head()
            ref = head.removeprefix("ref: ")
            loose = self.common_dir / ref
            if loose.is_file():
                sha = loose.read_text().strip()
                return sha if _SHA.fullmatch(sha) else self._rev_parse_head()
        except OSError:
            pass
        return self._rev_parse_head()  # packed refs, unborn branch, other ref backends

    def _rev_parse_head(self) -> str | None:
        result = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return _text(result.stdout) if result.returncode == 0 else None

    def branch(self) -> str | None:
        """The current branch name; None when HEAD is detached."""
        try:
            head = (self.git_dir / "HEAD").read_text().strip()
        except OSError:
            return None
        ref = head.removeprefix("ref: ")
        return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None

    def _resolve(self, ref: str) -> str:
        if ref.startswith("-") or "\0" in ref:
            raise UnknownRef(f"{ref!r} is not a git ref; pass a branch, tag or commit")
        result = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if result.returncode != 0:
            raise UnknownRef(
                f"unknown git ref {ref!r} in {self.top}; fetch it first "
                f"(e.g. `git fetch origin main` for origin/main) or pass a commit sha"
            )
        return _text(result.stdout)

    def _ls_tree(self, commit: str, prefixes: Sequence[str]) -> list[tuple[str, str]]:
        specs = [self._full(p) for p in prefixes]
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *specs).stdout
        rows = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            _, kind, sha = meta.decode().split()
            if kind == "blob":
                rows.append((self._local(path.decode("utf-8", "surrogateescape")), sha))
        return rows

    def blob_shas(
        self, ref: str = "HEAD", *, prefix_paths: tuple[str, ...] = DEFAULT_PREFIXES
    ) -> dict[str, str]:
        """Path -> blob sha at ``ref``: a free cache key for parsed files."""
        if ref == "HEAD" and self.head() is None:
            return {}
        return dict(self._ls_tree(self._resolve(ref), prefix_paths))

    def files_at(
        self, ref: str, prefix_paths: tuple[str, ...] = DEFAULT_PREFIXES
    ) -> dict[str, bytes]:
        """Path -> file bytes at ``ref`` (for ``diff --base``), read in one batch."""
        rows = self._ls_tree(self._resolve(ref), prefix_paths)
        if not rows:
            return {}
        batch = "".join(f"{sha}\n" for _, sha in rows).encode()
        out = self._git("cat-file", "--batch", input=batch).stdout
        files: dict[str, bytes] = {}
        pos = 0
        for path, _ in rows:
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            files[path] = out[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
        return files

    # -- commit --------------------------------------------------------------------

    def commit_paths(
        self, paths: list[str], message: str, *, author_name: str, author_email: str
    ) -> str | None:
        """Commit exactly ``paths`` (new, changed or deleted); None when nothing changed.

        Other staged or modified files are left as they are (``git commit --only``).
        """
        author = _identity(author_name, author_email)
        full = [self._full(p) for p in paths]
        if not full:
            return None
        # Fast path: changed tracked files need no ``git add`` with --only.
        result = self._commit(full, message, author)
        if result.returncode != 0 and b"did not match any file" in result.stderr:
            full = self._stage(full)  # new files must be added first
            if not full:
                return None
            result = self._commit(full, message, author)
        if result.returncode != 0:
            if b"index.lock" not in result.stderr and self._unchanged(full):
                return None
            raise self._failure("commit", result)
        self._maintain()
        return self.head()

    def _commit(
        self, full: list[str], message: str, author: str
    ) -> subprocess.CompletedProcess[bytes]:
        return self._git(
            *("-c", "maintenance.auto=false"),
            *("commit", "--quiet", "--no-edit", f"--author={author}", "-F", "-"),
            *("--only", "--", *full),
            input=message.encode("utf-8"),
            env=self._committer_env(),
            check=False,
        )

    def _maintain(self) -> None:
        """What ``git commit`` would have started after each commit, at the first commit
        of this object (a CLI process commits once) and every ``MAINTENANCE_EVERY`` after
        (and never when ``maintenance.auto`` is off). ``git maintenance run --auto``
        decides itself whether anything is due."""
        due = self._commits % MAINTENANCE_EVERY == 0
        self._commits += 1
        if not due or self._config().get("maintenance.auto", "true").lower() in _FALSE:
            return
        # gc detaches for the long work (gc.autoDetach); a failure is git's to report
        # the next time, never a reason to fail (or hold up) a write that is committed:
        # no output kept, no waiting for an index.lock as other commands do.
        with contextlib.suppress(OSError):
            subprocess.run(["git", "maintenance", "run", "--auto", "--quiet"], cwd=self.top,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, env=_git_env())

    def _unchanged(self, full: list[str]) -> bool:
        base = self.head() or _EMPTY_TREE
        staged = self._git("diff", "--cached", "--quiet", base, "--", *full, check=False)
        worktree = self._git("diff", "--quiet", base, "--", *full, check=False)
        return staged.returncode == 0 and worktree.returncode == 0

    def _stage(self, full: list[str]) -> list[str]:
        """Add present files, remove tracked missing ones; returns what git now knows."""
        present = [p for p in full if (self.top / p).exists()]
        missing = [p for p in full if p not in present]
        tracked: set[str] = set()
        if missing:  # only files git knows can be deleted; others were never there
            listed = self._git("ls-files", "-z", "--", *missing).stdout.decode()
            tracked = set(listed.split("\0")) - {""}
        gone = [p for p in missing if p in tracked]
        if present:
            self._git("add", "--", *present)
        if gone:
            self._git("rm", "--cached", "--quiet", "--", *gone)
        return present + gone

    def unstage(self, paths: Iterable[str]) -> None:
        """Put the index entries of ``paths`` back to HEAD (after a failed commit)."""
        full = [self._full(p) for p in paths]
        if self.head() is None:
            self._git("rm", "--cached", "--quiet", "--ignore-unmatch", "--", *full)
        else:
            self._git("reset", "--quiet", "HEAD", "--", *full, check=False)

    def undo_commit(self, previous: str | None, paths: Iterable[str]) -> None:
        """Move the branch back to ``previous`` keeping other work (after a failed push)."""
        if previous is None:
            self._git("update-ref", "-d", "HEAD")
        else:
            self._git("reset", "--quiet", "--soft", previous)
        self.unstage(paths)

    def _committer_env(self) -> dict[str, str]:
        """The configured committer, else schedsync's own (a server has no user.name)."""
        if self._committer is not None:
            return self._committer
        env: dict[str, str] = {}
        settings = self._config()
        for key, var, fallback in (
            ("user.name", "GIT_COMMITTER_NAME", _FALLBACK_COMMITTER[0]),
            ("user.email", "GIT_COMMITTER_EMAIL", _FALLBACK_COMMITTER[1]),
        ):
            if key not in settings:
                env[var] = fallback
        self._committer = env
        return env

    # -- push ----------------------------------------------------------------------

    def _upstream(self) -> tuple[str, str] | None:
        """(remote, remote branch) that the current branch pushes to, if configured."""
        branch = self.branch()
        if branch is None:
            return None

        settings = self._config()

        def config(key: str) -> str | None:
            return settings.get(key.lower())

        remote = (
            config(f"branch.{branch}.pushRemote")
            or config("remote.pushDefault")
            or config(f"branch.{branch}.remote")
        )
        if remote is None or remote == ".":
            return None
        if config(f"remote.{remote}.url") is None and config(f"remote.{remote}.pushurl") is None:
            return None
        merge = config(f"branch.{branch}.merge") or f"refs/heads/{branch}"
        return remote, merge.removeprefix("refs/heads/")

    def _config(self) -> dict[str, str]:
        """All git config (keys lower-cased, as git compares them), re-read on change."""
        try:
            stat = (self.common_dir / "config").stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (0, 0)
        if self._config_cache is not None and self._config_cache[0] == key:
            return self._config_cache[1]
        out = self._git("config", "-z", "--list", check=False).stdout.decode("utf-8", "replace")
        settings: dict[str, str] = {}
        for record in out.split("\0"):
            name, _, value = record.partition("\n")
            if name:  # listed system, global, repository: the last one wins, as in git
                settings[name.lower()] = value
        self._config_cache = (key, settings)
        return settings

    def has_push_remote(self) -> bool:
        return self._upstream() is not None

    def push(self) -> None:
        """Push the current branch; on rejection fetch, rebase and retry.

        After the last failed attempt the checkout is put back exactly as it was before
        the push (no rebase in progress, same HEAD) and ``PushRejected`` is raised.
        """
        upstream = self._upstream()
        if upstream is None:
            raise GitError(
                f"the branch of {self.top} has no remote to push to; "
                "set one with `git push -u <remote> <branch>`"
            )
        remote, target = upstream
        before = self.head()
        error = ""
        for _ in range(_PUSH_ATTEMPTS):
            pushed = self._git(
                "push", "--quiet", "--porcelain", remote, f"HEAD:refs/heads/{target}", check=False
            )
            if pushed.returncode == 0:
                return
            error = _text(pushed.stderr) or _text(pushed.stdout)
            problem = self._rebase_onto(remote, target)
            if problem:
                error = problem
                break
        self._restore(before)
        raise PushRejected(
            f"could not push to {remote}/{target} after {_PUSH_ATTEMPTS} attempts: {error}. "
            "The change was not published; pull the remote changes and retry"
        )

    def _rebase_onto(self, remote: str, target: str) -> str | None:
        """Fetch and rebase; returns why it failed (rebase aborted) or None."""
        fetched = self._git("fetch", "--quiet", remote, target, check=False)
        if fetched.returncode != 0:
            return f"fetch failed: {_text(fetched.stderr)}"
        rebased = self._git(
            "rebase", "--quiet", "FETCH_HEAD", env=self._committer_env(), check=False
        )
        if rebased.returncode != 0:
            in_progress = any(
                (self.git_dir / name).exists() for name in ("rebase-merge", "rebase-apply")
            )
            if in_progress:
                self._git("rebase", "--abort", check=False)
            output = _text(rebased.stdout) + "\n" + _text(rebased.stderr)
            lines = [line for line in output.splitlines() if line.strip()] or ["rebase failed"]
            conflict = [line for line in lines if "CONFLICT" in line]
            if conflict:
                return f"the remote changed the same lines (rebase conflict): {conflict[0]}"
            return f"could not rebase onto the remote: {lines[0]}"
        return None

    def _restore(self, commit: str | None) -> None:
        if commit is not None and self.head() != commit:
            self._git("reset", "--quiet", "--keep", commit)


def _git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Never prompt (a server has no terminal); stable English output for messages.
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_EDITOR": "true"})
    # Paths are file names, never patterns: 'schedules/a/*.yaml' must not commit them all.
    env["GIT_LITERAL_PATHSPECS"] = "1"
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    env.pop("GIT_INDEX_FILE", None)
    env.update(extra or {})
    return env


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").strip()


def _identity(name: str, email: str) -> str:
    for label, value in (("name", name), ("email", email)):
        if not value.strip() or any(ch in value for ch in "<>\n\r\0"):
            raise GitError(
                f"the commit author's {label} {value!r} is not usable by git: it must be "
                "non-empty and contain no '<', '>' or line breaks"
            )
    return f"{name.strip()} <{email.strip()}>"
