"""The OpenAPI 3.1 document of the API, built once from the route table's facts.

Request bodies of schedules reuse the JSON Schema of the pydantic ``Schedule`` model,
so the document cannot drift from what the server validates.
"""

from __future__ import annotations

import functools
from typing import Any

from schedsync import __version__

_ERROR_CODES = {
    "400": ("invalid_request", "Malformed JSON, a body that is not an object, a bad cursor."),
    "401": ("unauthenticated", "No, unknown or revoked token; no or expired session."),
    "403": ("forbidden", "Role too low (details.have / details.need), or csrf_failed."),
    "404": ("not_found", "Unknown project, not a member of the project, unknown schedule."),
    "409": ("conflict", "Name taken, concurrent edit, git conflict or rejected push."),
    "413": ("payload_too_large", "args or kwargs over 64 KiB (details.field), body over 1 MiB."),
    "422": ("validation_error", "details.errors lists every field error."),
    "503": ("scheduler_unavailable", "A live scheduler store could not be reached."),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: str) -> dict[str, Any]:
    return {
        s: {"description": f"`{_ERROR_CODES[s][0]}`: {_ERROR_CODES[s][1]}",
            "content": {"application/json": {"schema": _ref("Error")}}}
        for s in statuses
    }


_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "The project: its folder name under schedules/."}
_ID = {"name": "schedule_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                 "maximum": 500, "default": 50}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"},
     "description": "next_cursor of the previous page, unchanged."},
]
_READ = ("401", "404")
_WRITE = ("400", "401", "403", "404", "413", "422")


def _op(summary: str, role: str, responses: dict[str, Any], *, csrf: bool = False,
        body: dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None,
        errors: tuple[str, ...] = _READ) -> dict[str, Any]:
    note = f"Role: {role}." + (" CSRF: send X-CSRF-Token when using a session cookie."
                                if csrf else "")
    op: dict[str, Any] = {"summary": summary, "description": note,
                          "parameters": params or [], "responses": {**responses,
                                                                    **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _paths() -> dict[str, Any]:
    sched = "/api/v1/projects/{slug}/schedules"
    item = sched + "/{schedule_id}"
    write_errors = (*_WRITE, "409", "503")
    schedule_ok = _json(_ref("ScheduleWritten"), "The schedule as written, with sync status.")
    return {
        "/healthz": {"get": {"summary": "Liveness", "security": [],
                             "responses": {"200": _json({"type": "object"}, "Up.")}}},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                         "responses": {"200": _json({"type": "object"}, "OK")}}},
        "/api/v1/auth/session": {
            "post": {"summary": "Log in with a token: sets the session and CSRF cookies",
                     "security": [],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["token"],
                                    "properties": {"token": {"type": "string"}}}}}},
                     "responses": {"200": _json({"type": "object", "properties": {
                         "csrf_token": {"type": "string"}}}, "Logged in."),
                         **_errors("400", "401", "413")}},
            "delete": {"summary": "Log out", "responses": {"204": {"description": "Logged out."},
                                                           **_errors("401", "403")}},
        },
        sched: {
            "parameters": [_SLUG],
            "get": _op("List schedules (by name; keyset pages)", "viewer",
                       {"200": _json(_ref("SchedulePage"), "A page.")},
                       params=[{"name": "scheduler", "in": "query", "schema": {"type": "string"},
                                "description": "a scheduler of the project, or a scheduler "
                                               "type (apscheduler, celery-beat)"},
                               {"name": "enabled", "in": "query",
                                "schema": {"type": "string", "enum": ["true", "false"]}},
                               *_PAGING], errors=("400", "401", "404", "422")),
            "post": _op("Create a schedule (YAML + commit + live apply)", "operator",
                        {"201": schedule_ok}, csrf=True, body=_ref("ScheduleCreate"),
                        errors=write_errors),
        },
        item: {
            "parameters": [_SLUG, _ID],
            "get": _op("Get a schedule", "viewer", {"200": _json(_ref("Schedule"), "OK")}),
            "patch": _op("Change any subset of fields; a new name renames (id kept)",
                         "operator", {"200": schedule_ok}, csrf=True,
                         body=_ref("SchedulePatch"), errors=write_errors),
            "delete": _op("Delete a schedule (YAML + commit + live entry)", "admin",
                          {"204": {"description": "Deleted."}}, csrf=True,
                          errors=(*_WRITE, "409", "503")),
        },
        item + "/enable": {"parameters": [_SLUG, _ID], "post": _op(
            "Enable", "operator", {"200": schedule_ok}, csrf=True, errors=write_errors)},
        item + "/disable": {"parameters": [_SLUG, _ID], "post": _op(
            "Disable", "operator", {"200": schedule_ok}, csrf=True, errors=write_errors)},
        item + "/trigger": {"parameters": [_SLUG, _ID], "post": _op(
            "Run the task once now", "operator",
            {"202": _json(_ref("Triggered"), "Sent; the fire is recorded.")}, csrf=True,
            errors=("401", "403", "404", "503"))},
        item + "/fires": {"parameters": [_SLUG, _ID], "get": _op(
            "Fire history, newest first", "viewer",
            {"200": _json(_ref("FirePage"), "A page.")}, params=_PAGING,
            errors=("400", "401", "404", "422"))},
        sched + ":import": {"parameters": [_SLUG], "post": _op(
            "Write live entries into the repository", "admin",
            {"200": _json(_ref("ImportResult"), "Imported.")}, csrf=True,
            body=_ref("ImportRequest"), errors=(*_WRITE, "409", "503"))},
        sched + ":diff": {"parameters": [_SLUG], "post": _op(
            "Repository vs live scheduler, without writing", "viewer",
            {"200": _json(_ref("Diff"), "The differences.")}, body=_ref("DiffRequest"),
            errors=("400", "401", "404", "422", "503"))},
        sched + ":resync": {"parameters": [_SLUG], "post": _op(
            "Reconcile in one direction", "admin",
            {"200": _json(_ref("ResyncResult"), "Done.")}, csrf=True,
            body=_ref("ResyncRequest"), errors=(*_WRITE, "409", "503"))},
    }


def _schemas() -> dict[str, Any]:
    from schedsync.schemas.schedule import Schedule

    model = Schedule.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = model.pop("$defs", {})
    create = {**model, "title": "ScheduleCreate"}
    create["properties"] = {**model["properties"], "file": {
        "type": "string", "description": "Path under schedules/<slug>/ (default: "
        "<first segment of the name>.yaml)"}}
    patch = {**model, "title": "SchedulePatch", "required": []}
    ts = {"type": ["string", "null"], "format": "date-time"}
    schedule = {
        "type": "object",
        "required": ["id", "project_id", "name", "scheduler", "trigger_type", "trigger", "task",
                     "args", "kwargs", "enabled", "last_run_at", "next_run_at", "created_at",
                     "updated_at"],
        "properties": {**model["properties"], "id": {"type": "string"},
                       "project_id": {"type": "string"}, "last_run_at": ts, "next_run_at": ts,
                       "created_at": ts, "updated_at": ts},
    }
    fire = {"type": "object", "properties": {
        "id": {"type": "string"}, "fired_at": ts, "task_id": {"type": "string"},
        "status": {"enum": ["pending", "succeeded", "failed", "missed"]},
        "source": {"enum": ["schedule", "manual"]}, "finished_at": ts,
        "error": {"type": ["string", "null"]}}}
    field_change = {"type": "object", "properties": {
        "path": {"type": "string"}, "repo": {}, "live": {}, "base": {}}}
    diff = {"type": "object", "properties": {
        "in_sync": {"type": "boolean"},
        "summary": {"type": "object", "properties": {
            k: {"type": "integer"} for k in ("create", "update", "delete", "unchanged")}},
        "changes": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "scheduler": {"type": "string"},
            "action": {"enum": ["create", "update", "delete"]},
            "origin": {"enum": ["repo", "live", "both"]},
            "fields": {"type": "array", "items": field_change}}}}}}
    sync = {"type": "object", "properties": {"status": {"enum": ["applied", "failed"]},
                                             "error": {"type": "string"}}}
    return {
        **defs,
        "Error": {"type": "object", "required": ["error", "message", "details", "request_id"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                 "details": {"type": "object"},
                                 "request_id": {"type": "string"}}},
        "ScheduleCreate": create,
        "SchedulePatch": patch,
        "Schedule": schedule,
        "ScheduleWritten": {"allOf": [_ref("Schedule"), {"type": "object", "properties": {
            "sync": sync}}]},
        "SchedulePage": {"type": "object", "properties": {
            "items": {"type": "array", "items": _ref("Schedule")},
            "next_cursor": {"type": ["string", "null"]}}},
        "Triggered": {"type": "object", "properties": {
            "task_id": {"type": "string"}, "schedule_id": {"type": "string"}, "fired_at": ts}},
        "Fire": fire,
        "FirePage": {"type": "object", "properties": {
            "items": {"type": "array", "items": _ref("Fire")},
            "next_cursor": {"type": ["string", "null"]}}},
        "ImportRequest": {"type": "object", "properties": {
            "scheduler": {"type": "string"}, "overwrite": {"type": "boolean", "default": False},
            "dry_run": {"type": "boolean", "default": False}}},
        "ImportResult": {"type": "object", "properties": {
            "created": {"type": "array", "items": {"type": "string"}},
            "updated": {"type": "array", "items": {"type": "string"}},
            "unchanged": {"type": "integer"}, "commit": {"type": ["string", "null"]}}},
        "DiffRequest": {"type": "object", "properties": {"scheduler": {"type": "string"}}},
        "Diff": diff,
        "ResyncRequest": {"type": "object", "required": ["direction"], "properties": {
            "direction": {"enum": ["repo_to_scheduler", "scheduler_to_repo"]},
            "scheduler": {"type": "string"}, "prune": {"type": "boolean", "default": False},
            "dry_run": {"type": "boolean", "default": False}}},
        "ResyncResult": {"allOf": [_ref("Diff"), {"type": "object", "properties": {
            "applied": {"type": "array", "items": {"type": "string"}},
            "failed": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "error": {"type": "string"}}}},
            "commit": {"type": ["string", "null"]}}}]},
    }


@functools.cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "schedsync Schedules API", "version": __version__},
        "security": [{"bearer": []}, {"session": []}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "schedsync_session"},
            },
        },
    }
