"""`jobengine schedule describe|next`: the registry's schedules from the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from jobengine.cli import cli

REGISTRY = """\
scheduled_jobs:
  LastDay:
    method: examples.basics:heartbeat
    schedule:
      days_repeat_period: 1
      day_in_month: -1
      begin_time: "09:00"
      completion_interval: 600
      timezone: UTC
"""


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    (tmp_path / "jobs.yaml").write_text(REGISTRY)
    result = CliRunner().invoke(cli, [*args[:2], "--registry", str(tmp_path), *args[2:]])
    return result.exit_code, result.output


def test_describe_prints_the_1c_text(tmp_path: Path) -> None:
    assert run(tmp_path, "schedule", "describe", "LastDay") == (
        0,
        "Every day; on the last day of the month; from 9:00:00 once a day, finish in 600 seconds\n",
    )


def test_next_lists_runs_with_their_deadlines(tmp_path: Path) -> None:
    code, output = run(
        tmp_path, "schedule", "next", "LastDay", "--count", "3", "--after", "2024-01-31T10:00:00"
    )
    assert code == 0
    # 10:00 on the last day is inside that day's open window: the missed start is made up.
    assert output.splitlines() == [
        "2024-01-31 10:00:00  finish by 2024-01-31 10:10:00",
        "2024-02-29 09:00:00  finish by 2024-02-29 09:10:00",
        "2024-03-31 09:00:00  finish by 2024-03-31 09:10:00",
    ]


def test_unknown_name_is_a_one_line_error(tmp_path: Path) -> None:
    code, output = run(tmp_path, "schedule", "next", "Nope")
    assert code == 1
    assert "no scheduled job 'Nope'" in output
