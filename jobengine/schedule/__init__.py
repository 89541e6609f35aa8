"""Calendar schedules (1C JobSchedule): a pure value that says when a scheduled job is due.

No I/O and no clock: every answer is a function of the schedule and the instants passed in.
Semantics are spec/1c-jobs.md sections 2-4 and 9.

Time zones. Each schedule has a `timezone` (IANA name; None = this machine's zone). Its
clock times and dates are wall-clock time there. A naive datetime given to a method is
wall time in that zone (a repeated hour is read with PEP 495 `fold`); an aware one is
converted. Answers come back in the kind given: naive in, naive out; aware in, aware in
the same tzinfo out.

Daylight saving time:
- A wall time skipped by a spring-forward gap happens at the first valid instant after the
  gap (02:30 on a 02:00->03:00 day is 03:00), once. A window lying wholly in the gap opens
  there for one second.
- A wall time repeated by a fall-back change means its first occurrence, so a once-a-day
  start in the repeated hour runs once; window bounds use first occurrences too.
- Repeat periods and pauses within a day count real elapsed seconds, not clock readings:
  an hourly job runs in both copies of a repeated hour and skips none in a short day.
"""

from jobengine.schedule.model import DAILY_FIELDS, Schedule

__all__ = ["DAILY_FIELDS", "Schedule"]
