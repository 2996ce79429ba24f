"""check_cron and dom_dow_ambiguous: every problem named, with expected/found/fix."""

from __future__ import annotations

import pytest

from schedsync.engine.cron import CronProblem, check_cron, dom_dow_ambiguous

VALID = [
    {"minute": "0", "hour": "9", "day_of_week": "mon-fri"},
    {"minute": "*/5"},
    {"minute": "0,30", "hour": "8-18/2", "day_of_month": "1,15", "month_of_year": "jan-mar"},
    {"minute": "5/15", "day_of_week": "7"},
    {"minute": "0", "hour": "0", "day_of_month": "29", "month_of_year": "2"},
    {"minute": "0", "day_of_week": "SUN,Sat"},
    {"minute": "0", "day_of_week": "5-7"},
]


@pytest.mark.parametrize("trigger", VALID)
def test_valid_triggers_have_no_problem(trigger: dict[str, str]) -> None:
    assert check_cron(trigger, allow_seconds=False) == []


@pytest.mark.parametrize(
    ("trigger", "field", "found", "words"),
    [
        ({"minute": "60"}, "minute", "60", "out of range 0-59"),
        ({"hour": "24"}, "hour", "24", "out of range 0-23"),
        ({"day_of_month": "0"}, "day_of_month", "0", "out of range 1-31"),
        ({"month_of_year": "13"}, "month_of_year", "13", "out of range 1-12"),
        ({"day_of_week": "8"}, "day_of_week", "8", "out of range 0-7"),
        ({"day_of_week": "monday"}, "day_of_week", "monday", "not a number"),
        ({"minute": "*/0"}, "minute", "*/0", "positive whole number"),
        ({"minute": "10-5"}, "minute", "10-5", "runs backwards"),
        ({"minute": "1,,2"}, "minute", "1,,2", "empty item"),
        ({"hour": "9am"}, "hour", "9am", "not a number"),
        ({"minute": "5-"}, "minute", "5-", "cannot read"),
    ],
)
def test_bad_field_names_field_found_and_fix(
    trigger: dict[str, str], field: str, found: str, words: str
) -> None:
    problems = check_cron(trigger, allow_seconds=False)
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.field, problem.found) == (field, found)
    assert words in problem.message
    assert problem.expected
    assert problem.fix


def test_every_bad_field_is_reported() -> None:
    problems = check_cron({"minute": "61", "hour": "x", "day_of_week": "9"}, allow_seconds=False)
    assert [p.field for p in problems] == ["minute", "hour", "day_of_week"]


@pytest.mark.parametrize(
    ("day", "month"),
    [("31", "2"), ("30", "feb"), ("31", "4,6,9,11"), ("30-31", "2"), ("31", "apr")],
)
def test_a_spec_that_can_never_fire_is_a_day_of_month_problem(day: str, month: str) -> None:
    problems = check_cron({"day_of_month": day, "month_of_year": month}, allow_seconds=False)
    assert [p.field for p in problems] == ["day_of_month"]
    assert "never fire" in problems[0].message
    assert isinstance(problems[0], CronProblem)


def test_day_31_with_one_long_month_can_fire() -> None:
    assert check_cron({"day_of_month": "31", "month_of_year": "2,3"}, allow_seconds=False) == []


def test_seconds_only_where_allowed() -> None:
    trigger = {"minute": "*", "second": "*/10"}
    assert check_cron(trigger, allow_seconds=True) == []
    [problem] = check_cron(trigger, allow_seconds=False)
    assert problem.field == "second"
    assert "APScheduler" in problem.message


def test_bad_second_is_checked_too() -> None:
    [problem] = check_cron({"second": "75"}, allow_seconds=True)
    assert problem.field == "second"


def test_integers_from_yaml_are_read_as_text() -> None:
    assert check_cron({"minute": 0, "hour": 9}, allow_seconds=False) == []  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("trigger", "ambiguous"),
    [
        ({"day_of_month": "1", "day_of_week": "1"}, True),
        ({"day_of_month": "1-15", "day_of_week": "mon-fri"}, True),
        ({"day_of_month": "1"}, False),
        ({"day_of_week": "mon"}, False),
        ({"day_of_month": "*", "day_of_week": "*"}, False),
        # Restricting to every value is no restriction.
        ({"day_of_month": "1-31", "day_of_week": "0-6"}, False),
        ({"day_of_month": "1", "day_of_week": "0-7"}, False),
    ],
)
def test_dom_dow_ambiguous(trigger: dict[str, str], ambiguous: bool) -> None:
    assert dom_dow_ambiguous(trigger) is ambiguous
