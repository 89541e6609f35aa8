"""The background-job benchmark's printout: tables of medians, ratios, and the issue's targets."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import SystemResult

# Targets from issue 6 ("Speed"): (label, system, metric, rule, number, peer).
# rule "x>=": system/peer >= number (throughput); "<=peer": system <= peer; "ms<=": absolute.


@dataclass(frozen=True)
class Target:
    label: str
    system: str
    metric: str
    rule: str
    number: float = 0.0
    peer: str | None = None


HUEY, PROC = "huey-sqlite", "procrastinate"
SQ, PQ = "jobengine:single_rate", "jobengine-pg:single_rate"  # same-store single execute
TARGETS = (
    Target("enqueue >= 2.5x huey-sqlite", "jobengine", "enqueue_rate", "x>=", 2.5, HUEY),
    Target("drain >= 3x huey-sqlite", "jobengine", "drain_rate", "x>=", 3.0, HUEY),
    Target("steady drain >= 4x huey-sqlite", "jobengine", "steady_rate", "x>=", 4.0, HUEY),
    Target("start to 1st result <= huey-sqlite", "jobengine", "first_result", "<=peer", 0, HUEY),
    Target("p50 <= 1.2 ms (SQLite)", "jobengine", "p50", "ms<=", 1.2),
    Target("p99 <= 3 ms (SQLite)", "jobengine", "p99", "ms<=", 3.0),
    Target("drain >= 6x procrastinate", "jobengine-pg", "drain_rate", "x>=", 6.0, PROC),
    Target("p50 <= 3 ms (PostgreSQL)", "jobengine-pg", "p50", "ms<=", 3.0),
    Target("p99 <= 6 ms (PostgreSQL)", "jobengine-pg", "p99", "ms<=", 6.0),
    Target("batch >= 10x execute (SQLite)", "jobengine", "batch_rate", "x>=", 10, SQ),
    Target("batch >= 10x execute (PostgreSQL)", "jobengine-pg", "batch_rate", "x>=", 10, PQ),
)

COLUMNS = (  # (title, metric, scale, digits)
    ("enqueue/s", "enqueue_rate", 1.0, 0),
    ("drain/s", "drain_rate", 1.0, 0),
    ("1st s", "first_result", 1.0, 2),
    ("steady/s", "steady_rate", 1.0, 0),
    ("p50 ms", "p50", 1e3, 2),
    ("p99 ms", "p99", 1e3, 2),
    ("batch/s", "batch_rate", 1.0, 0),
)
SQLITE_ROWS = ("jobengine", "jobengine-inproc", "huey-sqlite", "huey-redis", "celery-redis")
PG_ROWS = ("jobengine-pg", "jobengine-pg-inproc", "procrastinate")


def _fmt(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "-" if value is None else f"{value * scale:,.{digits}f}"


def print_table(results: list[SystemResult]) -> None:
    by_name = {r.name: r for r in results}
    for title, names in (("SQLite (and Redis peers)", SQLITE_ROWS), ("PostgreSQL", PG_ROWS)):
        rows = [by_name[n] for n in names if n in by_name]
        if not rows:
            continue
        header = f"{'system':<20}" + "".join(f" {c[0]:>10}" for c in COLUMNS)
        print(f"{title}\n{header}\n{'-' * len(header)}")
        for r in rows:
            if r.unavailable is not None:
                print(f"{r.name:<20} unavailable: {r.unavailable}")
                continue
            cells = "".join(
                f" {_fmt(r.median(metric), scale, digits):>10}"
                for _, metric, scale, digits in COLUMNS
            )
            failed = f"   (failed: {r.errors[0]})" if r.errors else ""
            print(f"{r.name:<20}{cells}{failed}")
        print()


def _value(by_name: dict[str, SystemResult], ref: str, metric: str) -> float | None:
    name, _, override = ref.partition(":")
    result = by_name.get(name)
    return None if result is None else result.median(override or metric)


def check(target: Target, by_name: dict[str, SystemResult]) -> tuple[str, bool | None]:
    """The measured figure as text and whether it meets the target (None: not measured)."""
    mine = _value(by_name, target.system, target.metric)
    if target.rule == "ms<=":
        if mine is None:
            return "-", None
        return f"{mine * 1e3:.2f} ms", mine * 1e3 <= target.number
    assert target.peer is not None
    theirs = _value(by_name, target.peer, target.metric)
    if not mine or not theirs:
        return "-", None
    if target.rule == "x>=":
        return f"{mine / theirs:.2f}x", mine / theirs >= target.number
    return f"{mine:.2f} s vs {theirs:.2f} s", mine <= theirs


def print_targets(results: list[SystemResult]) -> None:
    by_name = {r.name: r for r in results}
    print("targets (issue 6), jobengine as its own process:")
    for target in TARGETS:
        text, ok = check(target, by_name)
        verdict = "n/a (not measured)" if ok is None else ("PASS" if ok else "MISS")
        print(f"  {target.label:<42} {text:>22}  {verdict}")
    inproc = by_name.get("jobengine-inproc")
    if inproc is not None and inproc.measured:
        print("same SQLite targets for jobengine in-process (for comparison):")
        for target in TARGETS[:6]:
            text, ok = check(_in_process(target), by_name)
            verdict = "n/a (not measured)" if ok is None else ("PASS" if ok else "MISS")
            print(f"  {target.label:<42} {text:>22}  {verdict}")


def _in_process(target: Target) -> Target:
    return Target(
        target.label, "jobengine-inproc", target.metric, target.rule, target.number, target.peer
    )


def print_ratios(
    results: list[SystemResult], me: str, peers: tuple[str, ...], metrics: tuple[str, ...]
) -> None:
    """`me` against the measured `peers` (throughput: times more; latency: times lower)."""
    by_name = {r.name: r for r in results}
    mine = by_name.get(me)
    if mine is None or not mine.measured:
        return
    for peer in results:
        if peer is mine or peer.name not in peers or not peer.measured:
            continue
        parts = []
        for metric in metrics:
            a, b = mine.median(metric), peer.median(metric)
            if a and b:
                lower_is_better = metric in ("p50", "p99", "first_result")
                parts.append(f"{metric} {(b / a if lower_is_better else a / b):.2f}x")
        if parts:
            print(f"  {me + ' vs ' + peer.name:<36} " + ", ".join(parts))
