"""RedBeat (Celery beat schedules in Redis), read and written with raw pipelines.

Layout (RedBeat 2.x): hash ``<prefix><name>`` with ``definition`` (JSON, written here
exactly as RedBeat's encoder writes it) and ``meta`` (last_run_at, total_run_count, owned
by beat); sorted set ``<prefix>:schedule`` scoring each hash key with its next due epoch.
schedsync adds a third hash field, ``schedsync`` (the interval period as written), which
RedBeat never reads.

Updates keep ``meta`` and the score (the next run) unless the schedule itself changed;
saving a fresh ``RedBeatSchedulerEntry`` would push the next run out instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis

from schedsync.engine.adapters import celery_common as cc
from schedsync.engine.adapters.base import (
    AdapterBase,
    Capabilities,
    LiveEntry,
    Operation,
    OpKind,
    OpResult,
)
from schedsync.engine.errors import ConfigError, SchedulerUnavailable
from schedsync.engine.spec import SPEC_FIELDS, Spec, make_spec
from schedsync.schemas.config import CeleryBeatScheduler

DEFAULT_PREFIX = "redbeat:"
BATCH = 1000
_HINT_FIELD = "schedsync"


class RedBeatAdapter(AdapterBase):
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
        self.config = config
        self.repo_root = repo_root
        self.project = project or cc.project_of(config, repo_root)
        self.timezone = config.timezone or app_conf.get("timezone") or "UTC"
        self.prefix = config.key_prefix or app_conf.get("redbeat_key_prefix") or DEFAULT_PREFIX
        self.schedule_key = self.prefix + ":schedule"
        self.url = str(url)
        self.redis = redis.Redis.from_url(self.url, decode_responses=True)
        self.capabilities = Capabilities(
            trigger_types=frozenset({"cron", "interval"}),
            cron_engine="celery",
            per_schedule_timezone=False,
            fixed_timezone=self.timezone,
            fields=frozenset(SPEC_FIELDS) - {"timezone", "description"},
        )
        self._managed: dict[str, str | None] = {}
        self._app: Any = None

    # -- reading ---------------------------------------------------------------------

    def list_entries(self) -> list[LiveEntry]:
        with self._connection_errors("read the schedule"):
            members = self.redis.zrange(self.schedule_key, 0, -1, withscores=True)
            pipe = self.redis.pipeline(transaction=False)
            for member, _score in members:
                pipe.hgetall(member)
            hashes = pipe.execute()
        entries: list[LiveEntry] = []
        self._managed = {}
        for (member, score), fields in zip(members, hashes, strict=True):
            if not fields or not member.startswith(self.prefix):
                continue
            entry = self._entry(member[len(self.prefix):], fields, score)
            entries.append(entry)
        return entries

    def managed_keys(self) -> dict[str, str | None]:
        """Keys of entries carrying schedsync's header mark (from the last listing),
        mapped to the project named in the mark."""
        return dict(self._managed)

    def _entry(self, key: str, fields: dict[str, str], score: float) -> LiveEntry:
        meta = _loads(fields.get("meta"))
        last_run = _decode_datetime(meta.get("last_run_at")) if meta else None
        count = meta.get("total_run_count") if meta else None
        next_run = datetime.fromtimestamp(score, UTC) if score >= 0 else None
        try:
            definition = json.loads(fields["definition"])
            hint = _loads(fields.get(_HINT_FIELD)).get("period")
            spec = self._spec(key, definition, hint)
        except (KeyError, ValueError, TypeError) as exc:
            problem = f"unreadable RedBeat entry {self.prefix}{key}: {exc}"
            placeholder = {"name": key}
            return LiveEntry(key, placeholder, next_run, last_run, count, problem)
        return LiveEntry(key, spec, next_run, last_run, count if isinstance(count, int) else None)

    def _spec(self, key: str, definition: dict[str, Any], hint: str | None) -> Spec:
        options = definition.get("options") or {}
        name, project = cc.managed_name(options.get("headers"))
        if name is not None:
            self._managed[key] = project
        schedule = definition["schedule"]
        kind = schedule.get("__type__")
        if kind == "interval":
            trigger_type, trigger = "interval", cc.interval_trigger(schedule["every"], hint)
        elif kind == "crontab":
            trigger_type, trigger = "cron", cc.cron_from_celery(schedule)
        else:
            raise ValueError(f"schedule type {kind!r} has no schedsync equivalent")
        return make_spec(
            name=name or key,
            trigger_type=trigger_type,
            trigger=trigger,
            task=definition["task"],
            args=definition.get("args") or [],
            kwargs=definition.get("kwargs") or {},
            enabled=definition.get("enabled", True),
            **cc.spec_options(options),
        )

    # -- writing ---------------------------------------------------------------------

    def create(self, key: str, spec: Spec) -> None:
        self._raise_first(self.apply([Operation(OpKind.CREATE, key, spec)]))

    def update(self, key: str, spec: Spec) -> None:
        self._raise_first(self.apply([Operation(OpKind.UPDATE, key, spec)]))

    def delete(self, key: str) -> None:
        self._raise_first(self.apply([Operation(OpKind.DELETE, key, None)]))

    def set_enabled(self, key: str, enabled: bool) -> None:
        kind = OpKind.ENABLE if enabled else OpKind.DISABLE
        self._raise_first(self.apply([Operation(kind, key, None)]))

    def apply(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        for start in range(0, len(ops), BATCH):
            yield from self._apply_batch(ops[start:start + BATCH])

    def _apply_batch(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        now = cc.utcnow()
        try:
            current = self._current(ops)
        except redis.RedisError as exc:
            yield from (OpResult(op, ok=False, error=_unavailable(exc)) for op in ops)
            return
        pipe = self.redis.pipeline(transaction=False)
        queued: list[Operation] = []
        results: list[OpResult] = []
        due_cache: dict[str, int] = {}
        for op in ops:
            try:
                self._queue(pipe, op, current.get(op.key), now, due_cache)
            except (KeyError, ValueError, TypeError, LookupError) as exc:
                results.append(OpResult(op, ok=False, error=f"{type(exc).__name__}: {exc}"))
            else:
                queued.append(op)
        try:
            pipe.execute()
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
                found[key] = {"definition": json.loads(definition), "meta": _loads(meta)}
        return found

    def _queue(
        self,
        pipe: Any,
        op: Operation,
        current: dict[str, Any] | None,
        now: datetime,
        due_cache: dict[str, int],
    ) -> None:
        hash_key = self.prefix + op.key
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
        hint = json.dumps({"period": spec["trigger"].get("period")})
        pipe.hset(hash_key, mapping={"definition": json.dumps(definition), _HINT_FIELD: hint})
        if current is None:
            # A new entry starts its clock now, as plain Celery beat does: an interval
            # runs one period from now and a crontab at its next match (RedBeat's own
            # save of a new entry would run it immediately).
            meta = json.dumps({"last_run_at": _encode_datetime(now)})
            pipe.hsetnx(hash_key, "meta", meta)
            pipe.zadd(self.schedule_key, {hash_key: self._score(op.spec, None, now, due_cache)})
        elif definition["schedule"] != current["definition"].get("schedule"):
            last_run = _decode_datetime(current["meta"].get("last_run_at"))
            pipe.zadd(self.schedule_key, {hash_key: self._score(op.spec, last_run, now, {})})
        else:
            # Same schedule: keep the next run; only restore a missing score.
            score = self._score(op.spec, None, now, due_cache)
            pipe.zadd(self.schedule_key, {hash_key: score}, nx=True)

    def definition(self, key: str, spec: Spec) -> dict[str, Any]:
        """The ``definition`` JSON object RedBeat's encoder would write for ``spec``."""
        if spec["trigger_type"] == "interval":
            seconds = float(cc.interval_seconds(spec["trigger"]))
            schedule: dict[str, Any] = {"__type__": "interval", "every": seconds,
                                        "relative": False}
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

    def _score(
        self, spec: Spec, last_run: datetime | None, now: datetime, cache: dict[str, int]
    ) -> int:
        memo = json.dumps([spec["trigger_type"], spec["trigger"]], sort_keys=True)
        if last_run is None and memo in cache:
            return cache[memo]
        schedule = cc.celery_schedule(spec["trigger_type"], spec["trigger"], self.timezone, now)
        score = int(cc.next_due(schedule, last_run or now, now).timestamp())
        if last_run is None:
            cache[memo] = score
        return score

    # -- running now -----------------------------------------------------------------

    def trigger(self, key: str, spec: Spec) -> str:
        if self._app is None:
            self._app = cc.sending_app(self.config, self.repo_root)
        return cc.send_now(self._app, spec, self.project)

    def close(self) -> None:
        self.redis.close()

    # -- helpers ---------------------------------------------------------------------

    def _connection_errors(self, what: str) -> _RedisErrors:
        return _RedisErrors(f"cannot {what} from RedBeat at {_safe_url(self.url)}")

    @staticmethod
    def _raise_first(results: Iterator[OpResult]) -> None:
        for result in results:
            if not result.ok:
                raise SchedulerUnavailable(result.error or "RedBeat write failed")


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


def _safe_url(url: str | None) -> str:
    # Never print a password that may sit in the URL.
    if not url or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _encode_datetime(moment: datetime) -> dict[str, Any]:
    # RedBeatJSONEncoder's shape for an aware UTC datetime.
    return {
        "__type__": "datetime", "year": moment.year, "month": moment.month,
        "day": moment.day, "hour": moment.hour, "minute": moment.minute,
        "second": moment.second, "microsecond": moment.microsecond, "timezone": "UTC",
    }


def _decode_datetime(value: Any) -> datetime | None:
    """RedBeat's datetime JSON -> aware datetime (zone name or offset seconds)."""
    if not isinstance(value, dict) or value.get("__type__") != "datetime":
        return None
    zone = value.get("timezone", "UTC")
    tz: Any
    if isinstance(zone, int | float):
        tz = timezone(timedelta(seconds=zone))
    else:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(zone)
    parts = {k: int(value.get(k, 0)) for k in
             ("year", "month", "day", "hour", "minute", "second", "microsecond")}
    return datetime(tzinfo=tz, **parts)
