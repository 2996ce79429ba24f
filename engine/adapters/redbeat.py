"""RedBeat (Celery beat schedules in Redis), read and written with raw pipelines.

Layout (RedBeat 2.x): hash ``<prefix><name>`` with ``definition`` (JSON, written here
exactly as RedBeat's encoder writes it) and ``meta`` (last_run_at, total_run_count, owned
by beat); sorted set ``<prefix>:schedule`` scoring each hash key with its next due epoch.
schedsync adds a third hash field, ``schedsync`` (the interval period as written), which
RedBeat never reads.

Updates keep ``meta`` and the score (the next run) unless the schedule itself changed;
saving a fresh ``RedBeatSchedulerEntry`` would push the next run out instead. Each write
batch is one MULTI/EXEC transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis

from schedsync.engine.adapters import celery_common as cc
from schedsync.engine.adapters.base import (
    Expectation,
    LiveEntry,
    Operation,
    OpKind,
    OpResult,
    paused_gc,
)
from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.errors import ConfigError, SchedulerUnavailable
from schedsync.engine.spec import Spec
from schedsync.schemas.config import CeleryBeatScheduler

DEFAULT_PREFIX = "redbeat:"
_HINT_FIELD = "schedsync"
_FIELDS = ("definition", "meta", _HINT_FIELD)


class RedBeatAdapter(cc.CeleryStoreAdapter):
    def __init__(
        self, config: CeleryBeatScheduler, repo_root: Path, *, project: str | None = None
    ) -> None:
        app_conf = _app_settings(config, repo_root)
        url = config.url or app_conf.get("redbeat_redis_url")
        if not url:
            raise ConfigError(
                "the celery-beat scheduler with store redbeat has no 'url': set it to the "
                "Redis URL of redbeat_redis_url, e.g. url: ${REDIS_URL}."
            )
        super().__init__(config, repo_root, project)
        self.timezone = config.timezone or app_conf.get("timezone") or "UTC"
        self.prefix = config.key_prefix or app_conf.get("redbeat_key_prefix") or DEFAULT_PREFIX
        self.schedule_key = self.prefix + ":schedule"
        self.url = str(url)
        # Bytes in, bytes to orjson: decoding 30k replies to str first is wasted work.
        self.redis = redis.Redis.from_url(self.url, decode_responses=False)
        self.capabilities = replace(capabilities_for(config), fixed_timezone=self.timezone)
        self._scores = _Scores(self.timezone, cc.utcnow())

    # -- reading ---------------------------------------------------------------------

    def list_entries(
        self, expect: Expectation | None = None, *, digests: bool = False
    ) -> list[LiveEntry]:
        with self._connection_errors("read the schedule"):
            members = self.redis.zrange(self.schedule_key, 0, -1, withscores=True)
            hashes = _hmget_each(self.redis, [member for member, _score in members], _FIELDS)
        self._managed = {}
        prefix = self.prefix.encode()
        size = len(prefix)
        with paused_gc():
            return [self._entry(member[size:].decode(), fields, score)
                    for (member, score), fields in zip(members, hashes, strict=True)
                    if member.startswith(prefix) and _stored(fields)]

    def _entry(self, key: str, fields: list[bytes | None] | Exception, score: float
               ) -> LiveEntry:
        if isinstance(fields, Exception):  # e.g. WRONGTYPE: not a hash
            problem = f"unreadable RedBeat entry {self.prefix}{key}: {fields}"
            return LiveEntry(key, {"name": key}, problem=problem)
        definition_text, meta_text, hint = fields
        last_run, count = _meta(meta_text)
        next_run = datetime.fromtimestamp(score, UTC) if score >= 0 else None
        try:
            spec = self._spec(key, orjson.loads(definition_text or b""), hint)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            problem = f"unreadable RedBeat entry {self.prefix}{key}: {exc}"
            placeholder = {"name": key}
            return LiveEntry(key, placeholder, next_run, last_run, count, problem)
        return LiveEntry(key, spec, next_run, last_run, count)

    def _spec(self, key: str, definition: dict[str, Any], hint: bytes | None) -> Spec:
        options = definition.get("options") or {}
        name, project = cc.managed_name(options.get("headers"))
        if name is not None:
            self._managed[key] = project
        return cc.live_spec(
            _template(orjson.dumps(definition["schedule"]), hint),
            name=name or key,
            task=definition["task"],
            args=definition.get("args") or (),
            kwargs=definition.get("kwargs"),
            enabled=definition.get("enabled", True),
            **cc.spec_options(options),
        )

    # -- writing ---------------------------------------------------------------------

    def _apply_started(self) -> None:
        # One moment per apply: every batch's new entries start their clocks together,
        # and each distinct cron's first fire is computed once.
        self._scores = _Scores(self.timezone, cc.utcnow())

    def _apply_batch(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        try:
            current = self._current(ops)
        except redis.RedisError as exc:
            yield from (OpResult(op, ok=False, error=_unavailable(exc)) for op in ops)
            return
        # One MULTI/EXEC per batch: Redis runs all of it or none of it, so an outage can
        # never leave part of a batch applied while the whole batch is reported failed.
        batch = _Batch(self.redis.pipeline(transaction=True), self._scores)
        queued: list[Operation] = []
        results: list[OpResult] = []
        for op in ops:
            try:
                self._queue(batch, op, current.get(op.key))
            except (KeyError, ValueError, TypeError, LookupError) as exc:
                results.append(OpResult(op, ok=False, error=f"{type(exc).__name__}: {exc}"))
            else:
                queued.append(op)
        try:
            batch.execute(self.schedule_key)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            results.extend(OpResult(op, ok=False, error=_batch_lost(exc)) for op in queued)
        except redis.RedisError as exc:
            results.extend(OpResult(op, ok=False, error=_unavailable(exc)) for op in queued)
        else:
            results.extend(OpResult(op, ok=True) for op in queued)
        yield from results

    def _current(self, ops: Sequence[Operation]) -> dict[str, dict[str, Any]]:
        """Stored definition and meta of entries the batch changes in place."""
        keys = [op.key for op in ops if op.kind not in (OpKind.CREATE, OpKind.DELETE)]
        if not keys:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self.prefix + key, ["definition", "meta"])
        found: dict[str, dict[str, Any]] = {}
        for key, (definition, meta) in zip(keys, pipe.execute(), strict=True):
            if definition:
                found[key] = {"definition": orjson.loads(definition), "meta": _loads(meta)}
        return found

    def _queue(self, batch: _Batch, op: Operation, current: dict[str, Any] | None) -> None:
        hash_key = self.prefix + op.key
        pipe = batch.pipe
        if op.kind is OpKind.DELETE:
            pipe.zrem(self.schedule_key, hash_key)
            pipe.delete(hash_key)
            return
        if op.kind in (OpKind.ENABLE, OpKind.DISABLE) and op.spec is None:
            if current is None:
                raise KeyError(f"no RedBeat entry {hash_key} to {op.kind.value}")
            definition = dict(current["definition"], enabled=op.kind is OpKind.ENABLE)
            pipe.hset(hash_key, "definition", json.dumps(definition))
            return
        assert op.spec is not None  # internal invariant: only delete carries no spec
        spec = op.spec
        if op.kind in (OpKind.ENABLE, OpKind.DISABLE):
            spec = {**spec, "enabled": op.kind is OpKind.ENABLE}
        definition = self.definition(op.key, spec)
        pipe.hset(
            hash_key,
            mapping={
                "definition": json.dumps(definition),
                _HINT_FIELD: _hint(spec["trigger"].get("period")),
            },
        )
        if current is None:
            # A new entry starts its clock now, as plain Celery beat does: an interval
            # runs one period from now and a crontab at its next match (RedBeat's own
            # save of a new entry would run it immediately).
            pipe.hsetnx(hash_key, "meta", batch.scores.new_meta)
            batch.set_score(hash_key, batch.scores.first(spec))
        elif definition["schedule"] != current["definition"].get("schedule"):
            last_run = _decode_datetime(current["meta"].get("last_run_at"))
            batch.set_score(hash_key, batch.scores.after(spec, last_run))
        else:
            # Same schedule: keep the next run; only restore a missing score.
            batch.keep_score(hash_key, batch.scores.first(spec))

    def definition(self, key: str, spec: Spec) -> dict[str, Any]:
        """The ``definition`` JSON object RedBeat's encoder would write for ``spec``."""
        if spec["trigger_type"] == "interval":
            seconds = float(cc.interval_seconds(spec["trigger"]))
            schedule: dict[str, Any] = {"__type__": "interval", "every": seconds, "relative": False}
        elif spec["trigger_type"] == "cron":
            schedule = {"__type__": "crontab", **cc.cron_to_celery(spec["trigger"])}
        else:
            raise ValueError(
                f"RedBeat cannot hold a {spec['trigger_type']} trigger (schedule "
                f"{spec['name']!r}): use cron or interval, or the django-celery-beat store"
            )
        return {
            "name": key,
            "task": spec["task"],
            "args": list(spec.get("args") or []),
            "kwargs": dict(spec.get("kwargs") or {}),
            "options": cc.options_from_spec(spec, self.project),
            "schedule": schedule,
            "enabled": bool(spec.get("enabled", True)),
        }

    def close(self) -> None:
        self.redis.close()

    # -- helpers ---------------------------------------------------------------------

    def _connection_errors(self, what: str) -> _RedisErrors:
        return _RedisErrors(f"cannot {what} from RedBeat at {_safe_url(self.url)}")


class _Scores:
    """Next due times (sorted-set scores) as of one moment, computed once per trigger."""

    def __init__(self, timezone: str, now: datetime) -> None:
        self.timezone = timezone
        self.now = now
        self.new_meta = json.dumps({"last_run_at": _encode_datetime(now)})
        self._first: dict[tuple[Any, ...], int] = {}

    def first(self, spec: Spec) -> int:
        """The score of an entry whose clock starts now."""
        trigger = spec["trigger"]
        if spec["trigger_type"] == "interval":
            return int(self.now.timestamp()) + cc.interval_seconds(trigger)
        memo = tuple(sorted(trigger.items()))
        if memo not in self._first:
            self._first[memo] = self.after(spec, None)
        return self._first[memo]

    def after(self, spec: Spec, last_run: datetime | None) -> int:
        due = cc.next_due(spec["trigger_type"], spec["trigger"], self.timezone, last_run,
                          self.now)
        # RedBeat's own score for an entry that never runs again: ignored by beat.
        return -1 if due is None else int(due.timestamp())


class _Batch:
    """One pipeline; scores are gathered into one ZADD (and one ZADD NX) per batch."""

    def __init__(self, pipe: Any, scores: _Scores) -> None:
        self.pipe = pipe
        self.scores = scores
        self._set: dict[str, int] = {}
        self._keep: dict[str, int] = {}

    def set_score(self, key: str, score: int) -> None:
        self._set[key] = score

    def keep_score(self, key: str, score: int) -> None:
        self._keep[key] = score

    def execute(self, schedule_key: str) -> None:
        if self._set:
            self.pipe.zadd(schedule_key, self._set)
        if self._keep:
            self.pipe.zadd(schedule_key, self._keep, nx=True)
        self.pipe.execute()


def _hmget_each(
    client: redis.Redis[bytes], keys: list[bytes], fields: tuple[str, ...]
) -> list[list[bytes | None] | Exception]:
    """``HMGET key *fields`` for every key, pipelined in one round trip: the commands
    redis-py's pipeline would send, packed in one go. Its pipeline packs and
    post-processes each command in Python, which for 10k small hashes costs about as
    much CPU as the rest of the listing (bench/celery_stores.py). An error reply
    (a key that is not a hash) comes back in its key's place."""
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(f), f.encode()) for f in fields)
    head = b"*%d\r\n$5\r\nHMGET\r\n" % (len(fields) + 2)
    packed = b"".join(b"%s$%d\r\n%s\r\n%s" % (head, len(key), key, tail) for key in keys)
    pool = client.connection_pool
    try:
        conn = pool.get_connection()
    except TypeError:  # redis-py before 5.3 wants a command name
        conn = pool.get_connection("HMGET")  # type: ignore[call-arg, unused-ignore]
    try:
        if keys:
            conn.send_packed_command([packed])
        replies: list[list[bytes | None] | Exception] = []
        for _key in keys:
            try:
                replies.append(conn.read_response())
            except redis.ResponseError as exc:  # the stream stays in step: read on
                replies.append(exc)
        return replies
    finally:
        # A connection error mid-way has already disconnected it (redis-py's default).
        pool.release(conn)


def _stored(fields: list[bytes | None] | Exception) -> bool:
    # A sorted-set member whose hash is gone is no entry (RedBeat skips it too).
    return isinstance(fields, Exception) or fields[0] is not None


def _hint(period: str | None) -> str:
    # The period an interval was written with ("" for crons); see interval_trigger.
    return period or ""


@lru_cache(maxsize=4096)
def _template(schedule_json: bytes, hint: bytes | None) -> Spec:
    """A definition's ``schedule`` (as JSON, to be hashable) and the stored period hint
    -> a spec template."""
    schedule = orjson.loads(schedule_json)
    kind = schedule.get("__type__")
    if kind == "interval":
        period = hint.decode() if hint else None
        return cc.spec_template("interval", cc.interval_trigger(schedule["every"], period))
    if kind == "crontab":
        return cc.spec_template("cron", cc.cron_from_celery(schedule))
    raise ValueError(f"schedule type {kind!r} has no schedsync equivalent")


class _RedisErrors:
    def __init__(self, message: str) -> None:
        self.message = message

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, redis.RedisError):
            raise SchedulerUnavailable(
                f"{self.message}: {exc}. Check that Redis is running and 'url' is right."
            ) from None


def _app_settings(config: CeleryBeatScheduler, repo_root: Path) -> dict[str, Any]:
    """RedBeat settings of the configured Celery app (explicit config wins)."""
    if not config.app:
        return {}
    conf = cc.load_app(config.app, repo_root).conf
    names = ("timezone", "redbeat_key_prefix", "redbeat_redis_url")
    return {name: conf.get(name) for name in names if conf.get(name)}


def _unavailable(exc: Exception) -> str:
    return f"Redis error: {type(exc).__name__}: {exc}"


def _batch_lost(exc: Exception) -> str:
    # Usually nothing landed; if Redis went away after running EXEC, all of it did.
    return (f"{_unavailable(exc)} (the batch is one transaction: none of it or, if Redis "
            "went away after running it, all of it landed; run plan once Redis is back)")


def _safe_url(url: str | None) -> str:
    # Never print a password that may sit in the URL.
    if not url or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _loads(text: bytes | None) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def _meta(text: bytes | None) -> tuple[datetime | None, int | None]:
    """(last run, run count) from beat's ``meta`` field; (None, None) when unreadable:
    it is beat's runtime record, never a reason to call the entry unreadable."""
    try:
        meta = _loads(text)
        last_run = _decode_datetime(meta.get("last_run_at"))
    except (ValueError, TypeError, KeyError):
        return None, None
    count = meta.get("total_run_count")
    return last_run, count if isinstance(count, int) else None


def _encode_datetime(moment: datetime) -> dict[str, Any]:
    # RedBeatJSONEncoder's shape for an aware UTC datetime.
    return {
        "__type__": "datetime",
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "microsecond": moment.microsecond,
        "timezone": "UTC",
    }


def _decode_datetime(value: Any) -> datetime | None:
    """RedBeat's datetime JSON -> aware datetime (zone name or offset seconds)."""
    if not isinstance(value, dict) or value.get("__type__") != "datetime":
        return None
    zone = value.get("timezone", "UTC")
    tz = timezone(timedelta(seconds=zone)) if isinstance(zone, int | float) else _zone(zone)
    return datetime(
        value["year"],
        value["month"],
        value["day"],
        value.get("hour", 0),
        value.get("minute", 0),
        value.get("second", 0),
        value.get("microsecond", 0),
        tzinfo=tz,
    )


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)
