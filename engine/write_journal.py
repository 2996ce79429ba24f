"""The write journal: what a repository write was about to change, kept until it is done.

``RepoWriter`` writes ``<root>/.schedsync/write-journal.json`` (fsync + atomic rename)
before it touches a schedule file and deletes it once the write is committed or rolled
back. A journal found later means its writer died half-way (``kill -9``, OOM, power
loss): it names the files, their bytes before the write, a hash of their bytes after it
and HEAD before it, which is enough to tell "it committed" from "undo it". This module
only reads and writes the record and says whether its owner still runs;
``RepoWriter.recover`` decides what to do.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["JOURNAL", "Journal", "JournalFile", "digest", "owner_alive", "read", "remove",
           "remove_leftovers", "this_process", "write"]

JOURNAL = ".schedsync/write-journal.json"
_TEMP = ".write-journal.json.tmp"  # next to JOURNAL
_VERSION = 1


@dataclass(frozen=True)
class JournalFile:
    """One file of a write: its bytes before (None: absent) and the hash of its bytes
    after (None: the write deletes it)."""

    path: str
    old: bytes | None
    new_sha256: str | None


@dataclass(frozen=True)
class Owner:
    """Who wrote a journal: a process is named by host, boot, pid and start time, so a
    pid reused after a restart (common in containers) is not taken for the writer."""

    host: str
    boot: str
    pid: int
    started: str


@dataclass(frozen=True)
class Journal:
    owner: Owner
    created: float  # wall clock (time.time), compared with .git/index.lock's mtime
    head: str | None  # HEAD before the write; None without git or on an unborn branch
    files: tuple[JournalFile, ...]
    folders: tuple[str, ...]  # folders the write creates, outermost first

    @property
    def paths(self) -> list[str]:
        return [item.path for item in self.files]


def digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


_me: Owner | None = None


def this_process() -> Owner:
    """This process (read once per process: a fork gets a new pid and reads again)."""
    global _me
    pid = os.getpid()
    if _me is None or _me.pid != pid:
        _me = Owner(socket.gethostname(), _boot_id(), pid, _start_time(pid))
    return _me


def owner_alive(journal: Journal) -> bool:
    """Whether the process that wrote ``journal`` still runs (and is not this one).

    Another host or another boot cannot be asked; callers hold the repository's write
    lock, which a running writer would hold too, so such a journal is left over."""
    owner, me = journal.owner, this_process()
    if (owner.host, owner.boot) != (me.host, me.boot) or owner.pid == me.pid:
        return False
    if owner.started:  # /proc works here: a gone, zombie or new process differs
        return _start_time(owner.pid) == owner.started
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write(root: Path, journal: Journal) -> None:
    """Durably record ``journal``: a reader sees the whole record or none of it."""
    target = root / JOURNAL
    payload = json.dumps(_encode(journal)).encode("utf-8")
    # One fixed temp name: journals are written under the repository's write lock only,
    # so no two writers share it, and one that a kill left behind is simply overwritten.
    tmp = target.parent / _TEMP
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            # The journal must outlive a power loss that the file edits may not.
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read(root: Path) -> Journal | None:
    """The journal left in ``root`` (None when there is none).

    Raises ``ValueError`` for a record that cannot be read (never written by us)."""
    try:
        raw = (root / JOURNAL).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _decode(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{root / JOURNAL} is not a schedsync write journal: {exc}") from None


def remove(root: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (root / JOURNAL).unlink()


def remove_leftovers(root: Path) -> None:
    """Temp files of journal writes that a kill cut short (no journal was recorded).

    The next write overwrites ours anyway; this also clears the randomly named ones that
    earlier versions wrote. Hold the repository's write lock."""
    for leftover in (root / JOURNAL).parent.glob(".write-journal.*tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def exists(root: Path) -> bool:
    return (root / JOURNAL).exists()


# -- encoding ----------------------------------------------------------------------------

def _encode(journal: Journal) -> dict[str, object]:
    owner = journal.owner
    return {
        "version": _VERSION,
        "host": owner.host, "boot": owner.boot, "pid": owner.pid, "started": owner.started,
        "created": journal.created,
        "head": journal.head,
        "files": [
            {"path": item.path,
             "old": None if item.old is None else base64.b64encode(item.old).decode("ascii"),
             "new_sha256": item.new_sha256}
            for item in journal.files
        ],
        "folders": list(journal.folders),
    }


def _decode(data: dict[str, object]) -> Journal:
    if data.get("version") != _VERSION:
        raise ValueError(f"unknown version {data.get('version')!r}")
    owner = Owner(str(data["host"]), str(data["boot"]), int(str(data["pid"])),
                  str(data["started"]))
    files = data["files"]
    folders = data["folders"]
    if not isinstance(files, list) or not isinstance(folders, list):
        raise ValueError("files and folders must be lists")
    head = data["head"]
    return Journal(
        owner,
        float(str(data["created"])),
        None if head is None else str(head),
        tuple(
            JournalFile(
                str(item["path"]),
                None if item["old"] is None else base64.b64decode(item["old"], validate=True),
                None if item["new_sha256"] is None else str(item["new_sha256"]),
            )
            for item in files
        ),
        tuple(str(folder) for folder in folders),
    )


# -- process identity ------------------------------------------------------------------

def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" when unknown or gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):  # a zombie has finished its work
        return ""
    return fields[19]


def now() -> float:
    return time.time()
