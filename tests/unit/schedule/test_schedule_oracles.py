"""Differential tests against oracles nobody here wrote: dateutil.rrule and systemd-analyze.

Each rule is written twice, once as a 1C schedule and once in the oracle's language. Starting
from random points over ten years, successive starts (each fed back as the last start) must
equal the oracle's successive occurrences.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from dateutil import rrule

from jobengine.schedule import Schedule

START = datetime(2020, 1, 1)
SPAN_S = 10 * 365 * 86400
SEED = 20240501


def starts(count: int, salt: int) -> list[datetime]:
    """Return reproducible random start points spread over ten years from 2020."""
    rng = random.Random(SEED + salt)
    return [START + timedelta(seconds=rng.randrange(SPAN_S)) for _ in range(count)]


def chain(s: Schedule, first: datetime, count: int) -> list[datetime]:
    """Return `first` and the starts after it, each fed back as the last start."""
    found = [first]
    while len(found) < count:
        nxt = s.next_run(found[-1], found[-1], found[-1])
        assert nxt is not None
        found.append(nxt)
    return found


def utc(**fields: Any) -> Schedule:
    return Schedule(timezone="UTC", **fields)


# dateutil.rrule

WD = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)
BEGIN = date(2020, 1, 1)
AT9: dict[str, Any] = {"byhour": 9, "byminute": 0, "bysecond": 0}

RRULE_CASES: list[tuple[str, Schedule, rrule.rrule]] = [
    *[
        (
            f"week {n} weekday {wd}",
            utc(days_repeat_period=1, week_day_in_month=n, week_days=[wd], begin_time=time(9)),
            rrule.rrule(rrule.MONTHLY, dtstart=START, byweekday=WD[wd - 1](n), **AT9),
        )
        for n, wd in ((1, 1), (2, 3), (3, 5), (4, 7), (5, 2), (-1, 5), (-2, 6))
    ],
    *[
        (
            f"day {k} of month",
            utc(days_repeat_period=1, day_in_month=k, begin_time=time(9)),
            rrule.rrule(rrule.MONTHLY, dtstart=START, bymonthday=k, **AT9),
        )
        for k in (1, 15, 29, 30, 31, -1, -2, -28, -31)
    ],
    (
        "months and days",
        utc(days_repeat_period=1, months=[2, 5, 11], day_in_month=-1, begin_time=time(23, 59)),
        rrule.rrule(
            rrule.YEARLY, dtstart=START, bymonth=(2, 5, 11), bymonthday=-1, byhour=23, byminute=59
        ),
    ),
    (
        "months and weekdays",
        utc(days_repeat_period=1, months=[1, 7], week_days=[2, 4], begin_time=time(6, 30)),
        rrule.rrule(
            rrule.DAILY,
            dtstart=START,
            bymonth=(1, 7),
            byweekday=(rrule.TU, rrule.TH),
            byhour=6,
            byminute=30,
        ),
    ),
    *[
        (
            f"every {n} days",
            utc(days_repeat_period=n, begin_date=BEGIN, begin_time=time(9)),
            rrule.rrule(rrule.DAILY, interval=n, dtstart=datetime(2020, 1, 1, 9)),
        )
        for n in (2, 3, 7, 10)
    ],
    *[
        (
            f"every {n} weeks",
            utc(
                days_repeat_period=1,
                weeks_period=n,
                week_days=[1, 5],
                begin_date=BEGIN,
                begin_time=time(9),
            ),
            rrule.rrule(
                rrule.WEEKLY,
                interval=n,
                wkst=rrule.MO,
                byweekday=(rrule.MO, rrule.FR),
                dtstart=datetime(2020, 1, 1, 9),
            ),
        )
        for n in (2, 3)
    ],
    (
        "hourly 01-07",
        utc(
            days_repeat_period=1,
            begin_time=time(1),
            end_time=time(7),
            repeat_period_in_day=3600,
        ),
        rrule.rrule(rrule.DAILY, dtstart=START, byhour=range(1, 8), byminute=0, bysecond=0),
    ),
    (
        "every 20 minutes on the 2nd Monday",
        utc(
            days_repeat_period=1,
            week_day_in_month=2,
            week_days=[1],
            begin_time=time(10),
            end_time=time(10, 40),
            repeat_period_in_day=1200,
        ),
        rrule.rrule(
            rrule.MONTHLY,
            dtstart=START,
            byweekday=rrule.MO(2),
            byhour=10,
            byminute=(0, 20, 40),
            bysecond=0,
        ),
    ),
]


@pytest.mark.parametrize(
    ("schedule", "rule"), [pytest.param(s, r, id=name) for name, s, r in RRULE_CASES]
)
def test_successive_starts_match_rrule(schedule: Schedule, rule: rrule.rrule) -> None:
    for index, at in enumerate(starts(12, len(str(schedule)))):
        expected_first = rule.after(at, inc=True)
        previous = rule.before(at)
        assert expected_first is not None
        first = schedule.next_run(at, previous, previous)
        assert first == expected_first, (index, at, previous)
        ours = chain(schedule, first, 6)
        theirs = [expected_first]
        while len(theirs) < 6:
            following = rule.after(theirs[-1])
            assert following is not None
            theirs.append(following)
        assert ours == theirs, (index, at)


# systemd-analyze calendar

SYSTEMD = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if os.path.exists("/usr/bin/systemd-analyze") else None
)
ELAPSE = re.compile(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")
ITERATIONS = 8

ONCE_A_DAY: list[tuple[str, Schedule]] = [
    ("*-*-* 09:00:00", utc(days_repeat_period=1, begin_time=time(9))),
    ("Sat,Sun *-*-* 09:00:00", utc(days_repeat_period=1, week_days=[6, 7], begin_time=time(9))),
    ("*-*~01 09:00:00", utc(days_repeat_period=1, day_in_month=-1, begin_time=time(9))),
    ("*-*-05 09:00:00", utc(days_repeat_period=1, day_in_month=5, begin_time=time(9))),
    (
        "Wed *-*-08..14 09:00:00",
        utc(days_repeat_period=1, week_day_in_month=2, week_days=[3], begin_time=time(9)),
    ),
    (
        "Fri *-*~07/1 17:30:00",
        utc(days_repeat_period=1, week_day_in_month=-1, week_days=[5], begin_time=time(17, 30)),
    ),
    ("Fri *-*-13 00:00:00", utc(days_repeat_period=1, day_in_month=13, week_days=[5])),
    (
        "*-01,07-01 06:00:00",
        utc(days_repeat_period=1, months=[1, 7], day_in_month=1, begin_time=time(6)),
    ),
    (
        "*-02-29 12:00:00",
        utc(days_repeat_period=1, months=[2], day_in_month=29, begin_time=time(12)),
    ),
]
REPEATING: list[tuple[str, Schedule]] = [
    (
        "*-*-* 01..07:00:00",
        utc(days_repeat_period=1, begin_time=time(1), end_time=time(7), repeat_period_in_day=3600),
    ),
    (
        "Mon..Fri *-*-* 08..17:00/15:00",
        utc(
            days_repeat_period=1,
            week_days=[1, 2, 3, 4, 5],
            begin_time=time(8),
            end_time=time(17, 45),
            repeat_period_in_day=900,
        ),
    ),
]


def systemd_elapses(expressions: list[str], base: datetime) -> list[list[datetime]]:
    """Ask systemd-analyze for the next elapses of each expression after `base` (UTC)."""
    assert SYSTEMD is not None
    command = [
        SYSTEMD,
        "calendar",
        f"--iterations={ITERATIONS}",
        f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC",
        *(f"{expression} UTC" for expression in expressions),
    ]
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C", "SYSTEMD_COLORS": "0"}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    blocks = [block for block in output.split("\n\n") if "Normalized form" in block]
    assert len(blocks) == len(expressions), output
    return [[datetime.fromisoformat(m) for m in ELAPSE.findall(block)] for block in blocks]


needs_systemd = pytest.mark.skipif(SYSTEMD is None, reason="systemd-analyze is not installed")


@needs_systemd
def test_once_a_day_rules_match_systemd_calendar() -> None:
    expressions = [expression for expression, _ in ONCE_A_DAY]
    for base in starts(10, 1):
        for (expression, schedule), theirs in zip(
            ONCE_A_DAY, systemd_elapses(expressions, base), strict=True
        ):
            assert len(theirs) == ITERATIONS, expression
            # a start at `base` holds the window it falls in, so the next one is systemd's
            first = schedule.next_run(base, base, base)
            assert first == theirs[0], (expression, base)
            assert chain(schedule, theirs[0], ITERATIONS) == theirs, (expression, base)


@needs_systemd
def test_repeating_rules_match_systemd_calendar() -> None:
    expressions = [expression for expression, _ in REPEATING]
    for base in starts(10, 2):
        for (expression, schedule), theirs in zip(
            REPEATING, systemd_elapses(expressions, base), strict=True
        ):
            assert len(theirs) == ITERATIONS, expression
            assert chain(schedule, theirs[0], ITERATIONS) == theirs, (expression, base)
            assert schedule.is_due(theirs[0])
