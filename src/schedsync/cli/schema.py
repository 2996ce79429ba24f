"""``schedsync schema``: the JSON Schema of schedule files, for editor completion.

Save it next to the repository (``schedsync schema > schedule.schema.json``) and start
each schedule file with ``# yaml-language-server: $schema=../../schedule.schema.json``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import click

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CRON_STRING = r"^\s*\S+(\s+\S+){4}\s*$"


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of schedule files (for editors)."""
    click.echo(json.dumps(schedule_file_schema(), indent=2, sort_keys=False))


def schedule_file_schema() -> dict[str, Any]:
    """``ScheduleFile``'s schema, sharpened where pydantic's output is looser than the
    validator: the trigger's shape follows ``trigger_type`` (if/then), cron fields
    accept numbers, and every field carries the help text validation uses."""
    from schedsync.engine.validate.messages import EXPECTED
    from schedsync.schemas.schedule import CRON_FIELDS, TRIGGER_TYPES, ScheduleFile

    schema = copy.deepcopy(ScheduleFile.model_json_schema())
    defs = schema["$defs"]
    for name in (*CRON_FIELDS, "second"):
        prop = defs["CronTrigger"]["properties"][name]
        prop.pop("anyOf", None)
        prop.pop("type", None)
        prop.pop("maxLength", None)
        prop.pop("minLength", None)
        prop["type"] = ["string", "integer"]
    for model in ("Schedule", "CronTrigger", "IntervalTrigger", "ClockedTrigger", "SolarTrigger"):
        for name, prop in defs[model]["properties"].items():
            prop.setdefault("description", EXPECTED.get(name, ""))
    schedule = defs["Schedule"]
    schedule["allOf"] = [_trigger_rule(kind) for kind in TRIGGER_TYPES]
    out: dict[str, Any] = {"$schema": SCHEMA_DIALECT}
    out.update(schema)
    out["title"] = "schedsync schedule file"
    out["description"] = "A file under schedules/<project>/ holding a 'schedules' list."
    return out


def _trigger_rule(kind: str) -> dict[str, Any]:
    model = {
        "cron": "CronTrigger",
        "interval": "IntervalTrigger",
        "clocked": "ClockedTrigger",
        "solar": "SolarTrigger",
    }[kind]
    shape: dict[str, Any] = {"$ref": f"#/$defs/{model}"}
    if kind == "cron":
        shape = {
            "anyOf": [
                shape,
                {
                    "type": "string",
                    "pattern": CRON_STRING,
                    "description": "minute hour day-of-month month day-of-week",
                },
            ]
        }
    return {
        "if": {"properties": {"trigger_type": {"const": kind}}, "required": ["trigger_type"]},
        "then": {"properties": {"trigger": shape}},
    }
