"""GitRepo against real git repositories (and a real bare remote) in tmp folders."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from schedsync.engine.errors import FatalError
from schedsync.engine.gitrepo import GitRepo, PushRejected, UnknownRef

AUTHOR = {"author_name": "Ada Lovelace", "author_email": "ada@example.com"}


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No global or system git config: only what each test sets up counts."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def init(path: Path, *, identity: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if identity:
        git(path, "config", "user.name", "Server")
        git(path, "config", "user.email", "server@example.com")
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_open_outside_a_work_tree_is_none(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert GitRepo.open(tmp_path / "plain") is None
    assert GitRepo.open(tmp_path / "missing") is None


def test_first_commit_author_and_fallback_committer(tmp_path: Path) -> None:
    root = init(tmp_path / "repo", identity=False)
    repo = GitRepo.open(root)
    assert repo is not None
    assert repo.head() is None
    write(root / "schedules/acme/a.yaml", "schedules: []\n")
    sha = repo.commit_paths(["schedules/acme/a.yaml"], "create a", **AUTHOR)
    assert sha == repo.head()
    assert sha is not None
    fmt = git(root, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s")
    assert fmt == "Ada Lovelace <ada@example.com>|schedsync <schedsync@localhost>|create a"


def test_commits_exactly_the_given_paths(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    write(root / "other.txt", "base\n")
    write(root / "schedules/p/a.yaml", "a: 1\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    repo = GitRepo.open(root)
    assert repo is not None
    write(root / "other.txt", "someone else's staged work\n")
    git(root, "add", "other.txt")
    write(root / "schedules/p/a.yaml", "a: 2\n")
    write(root / "schedules/p/new.yaml", "n: 1\n")
    sha = repo.commit_paths(["schedules/p/a.yaml", "schedules/p/new.yaml"], "edit", **AUTHOR)
    assert sha is not None
    changed = git(root, "show", "--name-only", "--format=", sha).splitlines()
    assert changed == ["schedules/p/a.yaml", "schedules/p/new.yaml"]
    # The other staged change is still staged, untouched.
    assert git(root, "diff", "--cached", "--name-only") == "other.txt"
    committer = git(root, "log", "-1", "--format=%an|%cn <%ce>")
    assert committer == "Ada Lovelace|Server <server@example.com>"


def test_deletion_and_no_op(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    write(root / "schedules/p/a.yaml", "a: 1\n")
    repo = GitRepo.open(root)
    assert repo is not None
    first = repo.commit_paths(["schedules/p/a.yaml"], "add", **AUTHOR)
    assert repo.commit_paths(["schedules/p/a.yaml"], "again", **AUTHOR) is None
    assert repo.head() == first
    (root / "schedules/p/a.yaml").unlink()
    gone = repo.commit_paths(["schedules/p/a.yaml"], "delete a", **AUTHOR)
    assert gone is not None
    assert git(root, "ls-tree", "-r", "--name-only", "HEAD") == ""
    # A path that never existed anywhere is simply nothing to commit.
    assert repo.commit_paths(["schedules/p/never.yaml"], "noop", **AUTHOR) is None


def _maintenance_runs(trace: Path) -> int:
    lines = trace.read_text().splitlines() if trace.exists() else []
    return sum("built-in: git maintenance run --auto" in line for line in lines)


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("false", 0)])
def test_auto_maintenance_runs_at_the_first_commit_then_every_so_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: int
) -> None:
    root = init(tmp_path / "repo")
    if setting is not None:
        git(root, "config", "maintenance.auto", setting)
    repo = GitRepo.open(root)
    assert repo is not None
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    monkeypatch.setattr("schedsync.engine.gitrepo.MAINTENANCE_EVERY", 3)

    def commit(n: int) -> None:
        write(root / "x.yaml", f"x: {n}\n")
        assert repo.commit_paths(["x.yaml"], f"edit {n}", **AUTHOR) is not None

    # A process's first commit: a CLI apply or import commits once and exits.
    commit(0)
    assert _maintenance_runs(trace) == expected  # ours, unless the repository said no
    for n in (1, 2):
        commit(n)
    assert _maintenance_runs(trace) == expected  # git commit itself no longer starts it
    commit(3)
    assert _maintenance_runs(trace) == 2 * expected


def test_auto_maintenance_off_in_the_repository_beats_the_global_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = init(tmp_path / "repo")
    global_config = tmp_path / "gitconfig"
    global_config.write_text("[maintenance]\n\tauto = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    git(root, "config", "maintenance.auto", "false")
    repo = GitRepo.open(root)
    assert repo is not None
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    monkeypatch.setattr("schedsync.engine.gitrepo.MAINTENANCE_EVERY", 1)
    write(root / "x.yaml", "x: 1\n")
    assert repo.commit_paths(["x.yaml"], "edit", **AUTHOR) is not None
    assert _maintenance_runs(trace) == 0


def test_a_single_commit_runs_maintenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI process commits once: the every-so-many count alone would never run gc."""
    root = init(tmp_path / "repo")
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    repo = GitRepo.open(root)  # a fresh one, as each CLI run opens
    assert repo is not None
    write(root / "x.yaml", "x: 1\n")
    assert repo.commit_paths(["x.yaml"], "edit", **AUTHOR) is not None
    assert _maintenance_runs(trace) == 1


def test_bad_author_is_a_clear_error(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    write(root / "x.yaml", "x: 1\n")
    repo = GitRepo.open(root)
    assert repo is not None
    with pytest.raises(FatalError, match="author's email"):
        repo.commit_paths(["x.yaml"], "m", author_name="Eve", author_email="e>\nvil")


def test_schedule_repo_in_a_subfolder(tmp_path: Path) -> None:
    top = init(tmp_path / "mono")
    root = top / "ops" / "sched"
    write(root / "schedsync.yaml", "version: 1\n")
    write(root / "schedules/p/a.yaml", "schedules: []\n")
    write(top / "schedules/p/outside.yaml", "not ours\n")
    repo = GitRepo.open(root)
    assert repo is not None
    assert repo.prefix == "ops/sched/"
    sha = repo.commit_paths(["schedsync.yaml", "schedules/p/a.yaml"], "init", **AUTHOR)
    assert sha is not None
    assert git(top, "show", "--name-only", "--format=", sha).splitlines() == [
        "ops/sched/schedsync.yaml",
        "ops/sched/schedules/p/a.yaml",
    ]
    files = repo.files_at("HEAD")
    assert files == {"schedsync.yaml": b"version: 1\n", "schedules/p/a.yaml": b"schedules: []\n"}
    shas = repo.blob_shas()
    assert shas["schedules/p/a.yaml"] == git(top, "rev-parse", "HEAD:ops/sched/schedules/p/a.yaml")
    assert set(shas) == set(files)


def test_files_at_an_older_ref_and_unknown_ref(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    repo = GitRepo.open(root)
    assert repo is not None
    assert repo.blob_shas() == {}
    write(root / "schedules/p/a.yaml", "v1\n")
    old = repo.commit_paths(["schedules/p/a.yaml"], "v1", **AUTHOR)
    write(root / "schedules/p/a.yaml", "v2\n" * 5000)
    repo.commit_paths(["schedules/p/a.yaml"], "v2", **AUTHOR)
    assert old is not None
    assert repo.files_at(old) == {"schedules/p/a.yaml": b"v1\n"}
    assert repo.files_at("HEAD")["schedules/p/a.yaml"] == b"v2\n" * 5000
    with pytest.raises(UnknownRef, match=r"unknown git ref 'origin/nope'.*git fetch"):
        repo.files_at("origin/nope")
    with pytest.raises(UnknownRef):
        repo.files_at("--output=/tmp/x")


# --------------------------------------------------------------------------- push


@pytest.fixture
def remote_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare remote with one commit and two clones of it (ours, theirs)."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = init(tmp_path / "seed")
    write(seed / "schedules/p/a.yaml", "schedules:\n  - name: a\n    task: t.a\n")
    write(seed / "schedules/p/b.yaml", "schedules:\n  - name: b\n    task: t.b\n")
    git(seed, "add", ".")
    git(seed, "commit", "-qm", "seed")
    git(seed, "push", "-q", str(bare), "main")
    clones = []
    for name in ("ours", "theirs"):
        git(tmp_path, "clone", "-q", str(bare), name)
        git(tmp_path / name, "config", "user.name", name)
        git(tmp_path / name, "config", "user.email", f"{name}@example.com")
        clones.append(tmp_path / name)
    return bare, clones[0], clones[1]


def test_push_remote_detection(tmp_path: Path, remote_pair: tuple[Path, Path, Path]) -> None:
    _, ours, _ = remote_pair
    repo = GitRepo.open(ours)
    assert repo is not None
    assert repo.has_push_remote()
    lonely = GitRepo.open(init(tmp_path / "lonely"))
    assert lonely is not None
    assert not lonely.has_push_remote()


def test_rejected_push_is_rebased_and_retried(remote_pair: tuple[Path, Path, Path]) -> None:
    bare, ours, theirs = remote_pair
    write(theirs / "schedules/p/b.yaml", "schedules:\n  - name: b\n    task: t.b2\n")
    git(theirs, "commit", "-qam", "theirs first")
    git(theirs, "push", "-q")
    repo = GitRepo.open(ours)
    assert repo is not None
    write(ours / "schedules/p/a.yaml", "schedules:\n  - name: a\n    task: t.a2\n")
    assert repo.commit_paths(["schedules/p/a.yaml"], "ours", **AUTHOR) is not None
    repo.push()
    log = git(bare, "log", "--format=%s|%an", "main").splitlines()
    assert log == ["ours|Ada Lovelace", "theirs first|theirs", "seed|Server"]
    assert git(ours, "status", "--porcelain") == ""
    assert (ours / "schedules/p/b.yaml").read_text().endswith("t.b2\n")


def test_conflicting_push_gives_up_with_a_clean_checkout(
    remote_pair: tuple[Path, Path, Path],
) -> None:
    bare, ours, theirs = remote_pair
    write(theirs / "schedules/p/a.yaml", "schedules:\n  - name: a\n    task: theirs.a\n")
    git(theirs, "commit", "-qam", "theirs")
    git(theirs, "push", "-q")
    remote_head = git(bare, "rev-parse", "main")
    repo = GitRepo.open(ours)
    assert repo is not None
    write(ours / "schedules/p/a.yaml", "schedules:\n  - name: a\n    task: ours.a\n")
    ours_commit = repo.commit_paths(["schedules/p/a.yaml"], "ours", **AUTHOR)
    with pytest.raises(PushRejected, match="rebase conflict") as info:
        repo.push()
    assert isinstance(info.value, FatalError)
    assert git(bare, "rev-parse", "main") == remote_head
    assert repo.head() == ours_commit
    assert git(ours, "status", "--porcelain") == ""
    assert not (ours / ".git" / "rebase-merge").exists()
    assert not (ours / ".git" / "rebase-apply").exists()
    assert (ours / "schedules/p/a.yaml").read_text().endswith("ours.a\n")


def test_paths_are_literal_not_patterns(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    write(root / "schedules/p/a.yaml", "a: 1\n")
    write(root / "schedules/p/b.yaml", "b: 1\n")
    repo = GitRepo.open(root)
    assert repo is not None
    repo.commit_paths(["schedules/p/a.yaml", "schedules/p/b.yaml"], "base", **AUTHOR)
    write(root / "schedules/p/a.yaml", "a: 2\n")
    write(root / "schedules/p/b.yaml", "b: 2\n")
    write(root / "schedules/p/*.yaml", "star\n")
    sha = repo.commit_paths(["schedules/p/*.yaml"], "only the odd file", **AUTHOR)
    assert sha is not None
    assert git(root, "show", "--name-only", "--format=", sha) == "schedules/p/*.yaml"
    assert git(root, "diff", "--name-only").splitlines() == [
        "schedules/p/a.yaml",
        "schedules/p/b.yaml",
    ]


def test_waits_for_a_concurrent_index_lock(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    write(root / "x.yaml", "x: 1\n")
    repo = GitRepo.open(root)
    assert repo is not None
    lock = root / ".git/index.lock"
    lock.write_text("")
    timer = threading.Timer(0.3, lock.unlink)
    timer.start()
    try:
        assert repo.commit_paths(["x.yaml"], "after the lock", **AUTHOR) is not None
    finally:
        timer.join()


def test_dirty_checkout_cannot_rebase_and_says_so(remote_pair: tuple[Path, Path, Path]) -> None:
    _, ours, theirs = remote_pair
    write(theirs / "schedules/p/b.yaml", "schedules: []\n")
    git(theirs, "commit", "-qam", "theirs")
    git(theirs, "push", "-q")
    repo = GitRepo.open(ours)
    assert repo is not None
    write(ours / "schedules/p/a.yaml", "schedules: []\n")
    ours_commit = repo.commit_paths(["schedules/p/a.yaml"], "ours", **AUTHOR)
    write(ours / "schedules/p/b.yaml", "someone's unfinished edit\n")
    with pytest.raises(PushRejected, match="could not rebase onto the remote"):
        repo.push()
    assert repo.head() == ours_commit
    assert (ours / "schedules/p/b.yaml").read_text() == "someone's unfinished edit\n"
