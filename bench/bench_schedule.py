"""Benchmark: jobengine `Schedule.next_run` beside dateutil.rrule, APScheduler 3 and croniter.

Run: python bench/bench_schedule.py [--clusters N] [--repeats R]

Every library answers the same question on the same instants: "the next start strictly after
this one", where each instant is a real occurrence of the rule (random clusters of successive
occurrences spread over 2024-2034). jobengine gets the instant as its last start, which is how
a scheduler calls it. Each repeat times every library in turn on all instants (so machine
noise hits them alike); the table shows the median microseconds per call over the repeats,
and each peer's time divided by jobengine's. The answers of all libraries are compared first.

Fairness notes: rrule objects start at the cluster's first instant (rrule.after walks from
dtstart, and a far dtstart would make it look much slower); croniter reuses one iterator and
only calls set_current + get_next; jobengine builds a fresh Schedule per repeat, so its
per-day caches start empty each time (the zone's table of daily UTC offsets is shared per
process, like zoneinfo's own cache). "jobengine Berlin" is the same rule in Europe/Berlin,
called with aware UTC datetimes (it only has to run; its answers are other instants).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time as timer
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from croniter import croniter
from dateutil import rrule

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobengine.schedule import Schedule  # after the path tweak: runnable from a checkout

AT9: dict[str, Any] = {"byhour": 9, "byminute": 0, "bysecond": 0}


@dataclass(frozen=True)
class Rule:
    """One rule written for every library."""

    name: str
    schedule: dict[str, Any]
    rrule: Callable[[datetime], rrule.rrule]
    cron: str
    aps: dict[str, Any]


RULES = [
    Rule(
        "every day 09:00",
        {"days_repeat_period": 1, "begin_time": time(9)},
        lambda start: rrule.rrule(rrule.DAILY, dtstart=start, **AT9),
        "0 9 * * *",
        {"hour": 9, "minute": 0},
    ),
    Rule(
        "hourly 01:00-07:00",
        {
            "days_repeat_period": 1,
            "begin_time": time(1),
            "end_time": time(7),
            "repeat_period_in_day": 3600,
        },
        lambda start: rrule.rrule(
            rrule.DAILY, dtstart=start, byhour=range(1, 8), byminute=0, bysecond=0
        ),
        "0 1-7 * * *",
        {"hour": "1-7", "minute": 0},
    ),
    Rule(
        "weekends 09:00",
        {"days_repeat_period": 1, "week_days": [6, 7], "begin_time": time(9)},
        lambda start: rrule.rrule(
            rrule.WEEKLY, dtstart=start, byweekday=(rrule.SA, rrule.SU), **AT9
        ),
        "0 9 * * 6,0",
        {"day_of_week": "sat,sun", "hour": 9, "minute": 0},
    ),
    Rule(
        "last day of month 09:00",
        {"days_repeat_period": 1, "day_in_month": -1, "begin_time": time(9)},
        lambda start: rrule.rrule(rrule.MONTHLY, dtstart=start, bymonthday=-1, **AT9),
        "0 9 L * *",
        {"day": "last", "hour": 9, "minute": 0},
    ),
    Rule(
        "second Wednesday 09:00",
        {
            "days_repeat_period": 1,
            "week_day_in_month": 2,
            "week_days": [3],
            "begin_time": time(9),
        },
        lambda start: rrule.rrule(rrule.MONTHLY, dtstart=start, byweekday=rrule.WE(2), **AT9),
        "0 9 * * 3#2",
        {"day": "2nd wed", "hour": 9, "minute": 0},
    ),
]


def instants(rule: Rule, clusters: int, per_cluster: int) -> list[tuple[rrule.rrule, datetime]]:
    """Return (rrule starting at the cluster, occurrence) pairs for random clusters."""
    rng = random.Random(20240501)
    pairs = []
    for _ in range(clusters):
        start = datetime(2024, 1, 1) + timedelta(seconds=rng.randrange(10 * 365 * 86400))
        start = start.replace(microsecond=0)
        generator = rule.rrule(start)
        for occurrence in generator.xafter(start, count=per_cluster):
            pairs.append((generator, occurrence))
    return pairs


def answers(rule: Rule, pairs: list[tuple[rrule.rrule, datetime]]) -> dict[str, list[datetime]]:
    """Return every library's answers (as naive UTC) for the agreement check."""
    schedule = Schedule(timezone="UTC", **rule.schedule)
    berlin = Schedule(timezone="Europe/Berlin", **rule.schedule)
    trigger = CronTrigger(timezone=UTC, **rule.aps)
    cron = croniter(rule.cron, pairs[0][1])
    out: dict[str, list[datetime]] = {name: [] for name in COLUMNS}
    for generator, at in pairs:
        out["jobengine"].append(schedule.next_run(at, at, at))
        aware = at.replace(tzinfo=UTC)
        # the Berlin column only checks it runs; its answers differ (09:00 Berlin is not UTC)
        out["jobengine Berlin"].append(berlin.next_run(aware, aware, aware))
        out["rrule"].append(generator.after(at))
        fire = trigger.get_next_fire_time(aware, aware)
        out["apscheduler"].append(fire.replace(tzinfo=None))
        cron.set_current(at, force=True)
        out["croniter"].append(cron.get_next(datetime))
    return out


def time_one(name: str, rule: Rule, pairs: list[tuple[rrule.rrule, datetime]]) -> float:
    """Return microseconds per call for one library over all pairs."""
    only = [at for _, at in pairs]
    if name == "jobengine":
        schedule = Schedule(timezone="UTC", **rule.schedule)
        began = timer.perf_counter()
        for at in only:
            schedule.next_run(at, at, at)
    elif name == "jobengine Berlin":
        schedule = Schedule(timezone="Europe/Berlin", **rule.schedule)
        aware = [at.replace(tzinfo=UTC) for at in only]
        began = timer.perf_counter()
        for at in aware:
            schedule.next_run(at, at, at)
    elif name == "rrule":
        began = timer.perf_counter()
        for generator, at in pairs:
            generator.after(at)
    elif name == "apscheduler":
        trigger = CronTrigger(timezone=UTC, **rule.aps)
        aware = [at.replace(tzinfo=UTC) for at in only]
        began = timer.perf_counter()
        for at in aware:
            trigger.get_next_fire_time(at, at)
    else:
        cron = croniter(rule.cron, only[0])
        began = timer.perf_counter()
        for at in only:
            cron.set_current(at, force=True)
            cron.get_next(datetime)
    return (timer.perf_counter() - began) / len(pairs) * 1e6


COLUMNS = ("jobengine", "jobengine Berlin", "rrule", "apscheduler", "croniter")
PEERS = ("rrule", "apscheduler", "croniter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=200, help="random starting points")
    parser.add_argument("--per-cluster", type=int, default=10, help="successive occurrences")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per library")
    args = parser.parse_args()

    rows = []
    for rule in RULES:
        pairs = instants(rule, args.clusters, args.per_cluster)
        got = answers(rule, pairs)
        for peer in PEERS:
            if got[peer] != got["jobengine"]:
                bad = sum(a != b for a, b in zip(got[peer], got["jobengine"], strict=True))
                print(f"DISAGREEMENT on {rule.name!r}: {peer} differs on {bad} instants")
                return 1
        samples: dict[str, list[float]] = {name: [] for name in COLUMNS}
        for _ in range(args.repeats):
            for name in COLUMNS:
                samples[name].append(time_one(name, rule, pairs))
        rows.append((rule.name, {name: statistics.median(v) for name, v in samples.items()}))

    calls = args.clusters * args.per_cluster
    print(
        f"next-start latency, median of {args.repeats} rounds x {calls} calls, "
        f"microseconds per call (all answers agree)"
    )
    head = f"{'rule':<26}" + "".join(f"{name:>18}" for name in COLUMNS)
    head += "".join(f"{peer + '/je':>16}" for peer in PEERS)
    print(head)
    print("-" * len(head))
    for name, medians in rows:
        line = f"{name:<26}" + "".join(f"{medians[c]:>18.1f}" for c in COLUMNS)
        line += "".join(f"{medians[p] / medians['jobengine']:>15.1f}x" for p in PEERS)
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
