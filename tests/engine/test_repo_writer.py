"""RepoWriter on real git repositories: one commit per write, all-or-nothing, locking."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from schedsync.engine import gitrepo, write_journal
from schedsync.engine.errors import FatalError, LockHeld
from schedsync.engine.gitrepo import GitError, GitLocked, GitRepo, PushRejected
from schedsync.engine.repo_writer import FileEdit, RepoWriter, UnsafePath
from schedsync.engine.yamledit import add_schedule, find_schedule_names, update_schedule
from schedsync.server.errors import from_engine

AUTHOR = {"author_name": "Grace Hopper", "author_email": "grace@example.com"}
FILE = "schedules/acme/email.yaml"
SEED = """\
# Email jobs.
schedules:
  - name: email.daily-digest          # unique inside the project
    scheduler: celery-beat
    trigger_type: cron
    trigger: {minute: "0", hour: "9", day_of_week: "*"}
    task: email.send_daily_digest
    args: []
    kwargs: {locale: en-US}
    enabled: true                     # default true
"""


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "schedules/acme").mkdir(parents=True)
    (root / FILE).write_text(SEED)
    (root / "schedsync.yaml").write_text("version: 1\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Server")
    git(root, "config", "user.email", "server@example.com")
    git(root, "add", ".")
    git(root, "commit", "-qm", "seed")
    return root


def commits(root: Path) -> int:
    return int(git(root, "rev-list", "--count", "HEAD"))


def entry(name: str) -> dict[str, object]:
    return {
        "name": name,
        "scheduler": "celery-beat",
        "trigger_type": "interval",
        "trigger": {"every": 5, "period": "minutes"},
        "task": "email.tick",
        "args": [],
        "kwargs": {},
        "enabled": True,
    }


def test_one_field_patch_is_a_one_line_commit(repo: Path) -> None:
    writer = RepoWriter(repo)
    trigger = {"minute": "0", "hour": "10", "day_of_week": "*"}
    result = writer.update(
        FILE,
        lambda text: update_schedule(text or "", "email.daily-digest", {"trigger": trigger}),
        "schedules: update email.daily-digest (trigger)",
        **AUTHOR,
    )
    assert result.commit == git(repo, "rev-parse", "HEAD")
    assert result.paths == (FILE,)
    assert not result.pushed
    stat = git(repo, "diff", "--stat", "HEAD~1", "HEAD")
    assert stat.splitlines()[-1].strip() == "1 file changed, 1 insertion(+), 1 deletion(-)"
    assert git(repo, "log", "-1", "--format=%an <%ae>|%s") == (
        "Grace Hopper <grace@example.com>|schedules: update email.daily-digest (trigger)"
    )
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / write_journal.JOURNAL).exists()


def test_no_op_write_makes_no_commit(repo: Path) -> None:
    writer = RepoWriter(repo)
    result = writer.write([FileEdit(FILE, SEED)], "nothing", **AUTHOR)
    assert result.commit is None
    assert result.paths == ()
    assert commits(repo) == 1


def test_new_file_and_deletion_in_one_commit(repo: Path) -> None:
    writer = RepoWriter(repo)
    new = "schedules/acme/billing/monthly.yml"
    result = writer.write(
        [FileEdit(new, add_schedule("", entry("billing.monthly"))), FileEdit(FILE, None)],
        "move",
        **AUTHOR,
    )
    assert result.commit is not None
    assert sorted(git(repo, "show", "--name-status", "--format=", "HEAD").splitlines()) == [
        f"A\t{new}",
        f"D\t{FILE}",
    ]
    assert not (repo / FILE).exists()
    assert find_schedule_names((repo / new).read_text()) == ["billing.monthly"]


def test_failed_commit_restores_every_file(repo: Path) -> None:
    hook = repo / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    writer = RepoWriter(repo)
    with pytest.raises(GitError, match="policy says no"):
        writer.write(
            [FileEdit(FILE, "schedules: []\n"), FileEdit("schedules/new/x.yaml", "a: 1\n")],
            "refused",
            **AUTHOR,
        )
    assert (repo / FILE).read_text() == SEED
    assert not (repo / "schedules/new").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert commits(repo) == 1
    assert not (repo / write_journal.JOURNAL).exists()  # rolled back: nothing to recover


def test_failure_half_way_through_files_restores_the_first(repo: Path) -> None:
    (repo / "schedules/acme/dir.yaml").mkdir()  # os.replace onto a folder fails
    writer = RepoWriter(repo)
    with pytest.raises(OSError, match=r"dir\.yaml"):
        writer.write(
            [FileEdit(FILE, "schedules: []\n"), FileEdit("schedules/acme/dir.yaml", "x\n")],
            "half",
            **AUTHOR,
        )
    assert (repo / FILE).read_text() == SEED
    assert commits(repo) == 1
    leftovers = [p.name for p in (repo / "schedules/acme").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize(
    "path", ["../outside.yaml", "/etc/passwd", ".git/config", "a\0b.yaml", "schedules\\x.yaml"]
)
def test_write_refuses_paths_outside_the_repository(repo: Path, path: str) -> None:
    writer = RepoWriter(repo)
    with pytest.raises(UnsafePath):
        writer.write([FileEdit(FILE, "schedules: []\n"), FileEdit(path, "x")], "evil", **AUTHOR)
    assert (repo / FILE).read_text() == SEED
    assert commits(repo) == 1


def test_without_git_files_are_still_written(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    result = RepoWriter(root).write([FileEdit(FILE, SEED)], "m", **AUTHOR)
    assert result.commit is None
    assert result.paths == (FILE,)
    assert (root / FILE).read_text() == SEED


# --------------------------------------------------------------------------- concurrency


def test_sixteen_threads_lose_nothing(repo: Path) -> None:
    per_thread = 4
    errors: list[BaseException] = []
    results: list[str | None] = []

    def worker(t: int) -> None:
        writer = RepoWriter(repo)  # one writer per request, as a server may do
        try:
            for i in range(per_thread):
                name = f"email.t{t}-{i}"
                result = writer.update(
                    FILE,
                    lambda text, name=name: add_schedule(text or "", entry(name)),
                    f"schedules: create {name}",
                    **AUTHOR,
                )
                results.append(result.commit)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = set(find_schedule_names((repo / FILE).read_text()))
    wanted = {f"email.t{t}-{i}" for t in range(16) for i in range(per_thread)}
    assert wanted <= names
    assert commits(repo) == 1 + 16 * per_thread
    assert len(set(results)) == 16 * per_thread
    messages = git(repo, "log", "--format=%s", "HEAD~64..HEAD").splitlines()
    assert sorted(messages) == sorted(f"schedules: create {n}" for n in wanted)


def test_processes_share_the_lock(repo: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from schedsync.engine.repo_writer import RepoWriter\n"
        "from schedsync.engine.yamledit import add_schedule\n"
        "root, tag = Path(sys.argv[1]), sys.argv[2]\n"
        "w = RepoWriter(root)\n"
        "for i in range(5):\n"
        "    name = f'email.p{tag}-{i}'\n"
        "    e = {'name': name, 'task': 'email.tick', 'enabled': True}\n"
        "    w.update(" + repr(FILE) + ", lambda t, e=e: add_schedule(t or '', e), name,\n"
        "             author_name='P', author_email='p@example.com')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(repo), str(p)], env=dict(os.environ))
        for p in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    names = set(find_schedule_names((repo / FILE).read_text()))
    assert {f"email.p{p}-{i}" for p in range(4) for i in range(5)} <= names
    assert commits(repo) == 1 + 20


def test_lock_is_reentrant_in_one_thread(repo: Path) -> None:
    writer = RepoWriter(repo)
    with writer.lock(), writer.lock():
        text = writer.read_text(FILE)
        assert text == SEED
        result = writer.write([FileEdit(FILE, text + "# note\n")], "note", **AUTHOR)
    assert result.commit is not None
    assert (repo / ".schedsync/write.lock").exists()


# --------------------------------------------------------------------------- push


@pytest.fixture
def cloned(tmp_path: Path, repo: Path) -> tuple[Path, Path, Path]:
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    clones = []
    for name in ("server", "human"):
        git(tmp_path, "clone", "-q", str(bare), name)
        git(tmp_path / name, "config", "user.name", name)
        git(tmp_path / name, "config", "user.email", f"{name}@example.com")
        clones.append(tmp_path / name)
    return bare, clones[0], clones[1]


def test_write_pushes_after_rebasing_on_a_newer_remote(cloned: tuple[Path, Path, Path]) -> None:
    bare, server, human = cloned
    (human / "schedules/acme/other.yaml").write_text("schedules: []\n")
    git(human, "add", ".")
    git(human, "commit", "-qm", "human adds a file")
    git(human, "push", "-q")
    writer = RepoWriter(server)
    result = writer.update(
        FILE, lambda t: update_schedule(t or "", "email.daily-digest", {"enabled": False}),
        "disable", **AUTHOR,
    )  # fmt: skip
    assert result.pushed
    assert result.commit == git(bare, "rev-parse", "main")
    assert git(bare, "log", "--format=%s", "main").splitlines() == [
        "disable",
        "human adds a file",
        "seed",
    ]


def test_unresolvable_push_undoes_the_write(cloned: tuple[Path, Path, Path]) -> None:
    bare, server, human = cloned
    human_text = update_schedule(SEED, "email.daily-digest", {"enabled": False})
    (human / FILE).write_text(human_text)
    git(human, "commit", "-qam", "human disables")
    git(human, "push", "-q")
    before = git(server, "rev-parse", "HEAD")
    writer = RepoWriter(server)
    with pytest.raises(PushRejected) as info:
        writer.update(
            FILE, lambda t: update_schedule(t or "", "email.daily-digest", {"enabled": "no"}),
            "conflict", **AUTHOR,
        )  # fmt: skip
    assert isinstance(info.value, FatalError)
    assert git(server, "rev-parse", "HEAD") == before
    assert git(server, "status", "--porcelain") == ""
    assert (server / FILE).read_text() == SEED
    assert git(bare, "log", "-1", "--format=%s", "main") == "human disables"


# --------------------------------------------------------------------------- paths


def test_default_and_given_schedule_paths(repo: Path) -> None:
    writer = RepoWriter(repo)
    assert writer.safe_schedule_path("acme", None, "email.daily") == Path(FILE)
    assert writer.safe_schedule_path("acme", None, "nightly") == Path("schedules/acme/nightly.yaml")
    assert writer.safe_schedule_path("acme", "team/jobs.yml", "x") == Path(
        "schedules/acme/team/jobs.yml"
    )
    assert writer.safe_schedule_path("acme", FILE, "x") == Path(FILE)


@pytest.mark.parametrize(
    ("project", "file", "name", "message"),
    [
        ("acme", "../other/x.yaml", "x", "inside schedules/acme/"),
        ("acme", "/etc/x.yaml", "x", "not absolute"),
        ("acme", "x\0.yaml", "x", "invalid"),
        ("acme", "x.json", "x", r"\.yaml or \.yml"),
        ("acme", ".hidden.yaml", "x", "hidden"),
        ("acme", "schedules/other/x.yaml", "x", "schedules/acme/"),
        ("acme", "link/x.yaml", "x", "symlink"),
        ("acme", "*.yaml", "x", "characters"),
        ("acme", "a b/\n.yaml", "x", "characters"),
        ("acme", ".", "x", "names no file"),
        ("acme", "./", "x", "names no file"),
        ("..", None, "x", "project slug"),
        ("acme/../b", None, "x", "project slug"),
        ("acme", None, "../x", "schedule name"),
        ("acme", None, "", "schedule name"),
    ],
)
def test_path_tricks_are_rejected(
    repo: Path, tmp_path: Path, project: str, file: str | None, name: str, message: str
) -> None:
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    (repo / "schedules/acme/link").symlink_to(tmp_path / "elsewhere")
    writer = RepoWriter(repo)
    with pytest.raises(UnsafePath, match=message):
        writer.safe_schedule_path(project, file, name)


# ------------------------------------------------------------ kill -9 and the write journal

NEW = "schedules/acme/billing/monthly.yaml"
EDITED = SEED.replace('hour: "9"', 'hour: "10"')


def user_work(repo: Path) -> None:
    """A user's own uncommitted work elsewhere in the checkout: recovery must keep it."""
    (repo / "notes.txt").write_text("v1\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-qm", "notes")
    (repo / "notes.txt").write_text("v2, staged\n")
    git(repo, "add", "notes.txt")
    (repo / "schedsync.yaml").write_text("version: 1\n# edited, not staged\n")


def assert_user_work_kept(repo: Path) -> None:
    assert git(repo, "status", "--porcelain", "--untracked-files=all").splitlines() == [
        "M  notes.txt",
        " M schedsync.yaml",
    ]
    assert (repo / "schedsync.yaml").read_text() == "version: 1\n# edited, not staged\n"


def die_during_write(repo: Path, install_kill: Callable[[], None]) -> None:
    """Fork a writer that SIGKILLs itself where ``install_kill`` says: nothing of the
    writer's own cleanup runs, exactly as with ``kill -9``."""
    pid = os.fork()
    if pid == 0:
        try:
            install_kill()
            RepoWriter(repo).write(
                [FileEdit(FILE, EDITED), FileEdit(NEW, add_schedule("", entry("billing.m")))],
                "killed write",
                **AUTHOR,
            )
        finally:
            os._exit(3)  # not reached when the kill lands
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL


def kill_self(*_: object, **__: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_killed_before_touching_files_leaves_nothing_after_recovery(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user_work(repo)
    die_during_write(repo, lambda: setattr(RepoWriter, "_put", kill_self))
    assert (repo / write_journal.JOURNAL).exists()
    RepoWriter(repo).recover_if_idle()
    assert not (repo / write_journal.JOURNAL).exists()
    assert (repo / FILE).read_text() == SEED
    assert not (repo / "schedules/acme/billing").exists()
    assert_user_work_kept(repo)
    assert "not committed; restored" in caplog.text


def test_killed_mid_commit_restores_files_index_and_removes_the_lock(repo: Path) -> None:
    user_work(repo)

    def stage_then_die(self: GitRepo, paths: list[str], *_: object, **__: object) -> None:
        # As `git commit` does: the change is in the index and index.lock is held.
        git(repo, "add", "--", *paths)
        (repo / ".git/index.lock").write_bytes(b"half-written index")
        kill_self()

    die_during_write(repo, lambda: setattr(GitRepo, "commit_paths", stage_then_die))
    assert (repo / NEW).exists()
    assert (repo / ".git/index.lock").exists()
    result = RepoWriter(repo).write([FileEdit(FILE, EDITED)], "next write", **AUTHOR)
    assert not (repo / ".git/index.lock").exists()
    assert not (repo / "schedules/acme/billing").exists()  # the new folder went too
    assert git(repo, "show", "--name-only", "--format=%s", result.commit or "") == (
        f"next write\n\n{FILE}"
    )
    assert not (repo / write_journal.JOURNAL).exists()
    assert_user_work_kept(repo)


def test_killed_after_commit_before_cleanup_keeps_the_commit(repo: Path) -> None:
    user_work(repo)
    before = commits(repo)
    die_during_write(repo, lambda: setattr(write_journal, "remove", kill_self))
    assert (repo / write_journal.JOURNAL).exists()
    assert commits(repo) == before + 1
    RepoWriter(repo).recover_if_idle()
    assert commits(repo) == before + 1
    assert git(repo, "log", "-1", "--format=%s") == "killed write"
    assert (repo / FILE).read_text() == EDITED
    assert find_schedule_names((repo / NEW).read_text()) == ["billing.m"]
    assert not (repo / write_journal.JOURNAL).exists()
    assert_user_work_kept(repo)


def test_killed_while_writing_the_journal_leaves_no_temp_files_behind(repo: Path) -> None:
    user_work(repo)
    die_during_write(repo, lambda: setattr(write_journal.os, "replace", kill_self))
    folder = repo / ".schedsync"
    assert not (repo / write_journal.JOURNAL).exists()  # never recorded: nothing touched
    assert [p.name for p in folder.glob("*.tmp")] == [".write-journal.json.tmp"]
    (folder / ".write-journal.x1y2z3.tmp").write_text("{")  # as older versions named them
    result = RepoWriter(repo).write([FileEdit(FILE, EDITED)], "next write", **AUTHOR)
    assert result.commit is not None
    assert list(folder.glob("*.tmp")) == []
    assert not (repo / write_journal.JOURNAL).exists()
    assert_user_work_kept(repo)


def test_a_journal_of_a_live_writer_is_left_alone(repo: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        owner = write_journal.this_process()
        owner = write_journal.Owner(owner.host, owner.boot, sleeper.pid,
                                    write_journal._start_time(sleeper.pid))
        (repo / FILE).write_text(EDITED)
        journal = write_journal.Journal(
            owner, write_journal.now(), git(repo, "rev-parse", "HEAD"),
            (write_journal.JournalFile(FILE, SEED.encode(), write_journal.digest(b"x")),), ())
        (repo / ".schedsync").mkdir(exist_ok=True)
        write_journal.write(repo, journal)
        RepoWriter(repo).recover_if_idle()  # reading goes on; nothing is undone
        assert (repo / FILE).read_text() == EDITED
        with pytest.raises(LockHeld, match=f"process {sleeper.pid}"):
            RepoWriter(repo).write([FileEdit(NEW, "schedules: []\n")], "m", **AUTHOR)
    finally:
        sleeper.kill()
        sleeper.wait()
    RepoWriter(repo).recover_if_idle()  # its owner has ended now
    assert (repo / FILE).read_text() == SEED


def test_an_index_lock_held_by_someone_else_is_a_conflict(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitrepo, "_INDEX_LOCK_WAIT", 0.2)
    (repo / ".git/index.lock").write_text("")  # no journal: not ours to remove
    with pytest.raises(GitLocked) as caught:
        RepoWriter(repo).write([FileEdit(FILE, EDITED)], "m", **AUTHOR)
    error = from_engine(caught.value)
    assert (error.status, error.code) == (409, "conflict")
    assert "another git command holds .git/index.lock" in error.message
    assert str(repo) not in error.message
    assert (repo / ".git/index.lock").exists()
    assert (repo / FILE).read_text() == SEED
