"""An occurrence records when it was decided, also when no run and no event came of it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jobengine.clock import to_ms
from jobengine.testing import FakeClock
from tests.integration.conftest import MakeEngine

REGISTRY = """\
allowed_modules: [tests.integration]
scheduled_jobs:
  Minutely:
    method: tests.integration.jobs:noop
    predefined: true
    use: true
    schedule: {days_repeat_period: 1, repeat_period_in_day: 60, timezone: UTC}
"""


def test_skipped_active_occurrence_has_the_pass_time(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    (tmp_path / "jobs.yaml").write_text(REGISTRY)
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    engine = make_engine(
        f"sqlite:///{tmp_path}/jobs.db", start=False, registry=str(tmp_path), clock=clock
    )
    (run,) = engine.scheduler.run_due()  # never worked on: stays ACTIVE
    clock.advance(61)
    assert engine.scheduler.run_due() == []
    skipped, started = engine.scheduled.named("Minutely").occurrences()
    assert (started.decision, started.job) == ("started", run.uuid)
    assert skipped.decision == "skipped_active"
    assert skipped.at_ms == to_ms(clock.now())
