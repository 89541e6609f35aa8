"""Time zones for schedules: resolve IANA names and map wall-clock time to real instants.

Instants and wall times are integer microseconds counted from 0001-01-01 00:00 (UTC for
instants, the zone's wall clock for wall times), so the due check and the next-run search
do plain integer arithmetic and touch `zoneinfo` only once per day they look at.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobengine.errors import ScheduleError

US = 1_000_000
DAY_US = 86_400 * US
_UNIX_EPOCH_S = 719_162 * 86_400  # 1970-01-01 in seconds from 0001-01-01
_WALL_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_UNSET = object()


@lru_cache(maxsize=1)
def local_zone_name() -> str:
    """Return the IANA name of this machine's zone (``$TZ``, ``/etc/localtime``), else "UTC".

    Read once per process: a zone is configuration, and reading it again on every
    schedule would put file I/O on the hot path.
    """
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        with open("/etc/timezone", encoding="utf-8") as handle:
            candidates.append(handle.read().strip())
    except OSError:
        pass
    for name in candidates:
        if name and _is_zone(name):
            return name
    return "UTC"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_info(name: str | None) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name; None means the local zone.

    Raises:
        ScheduleError: the name is not a known IANA zone.
    """
    key = local_zone_name() if name is None else name
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ScheduleError("timezone", name, "not a known IANA time zone") from exc


_OFFSETS: dict[timedelta, int] = {}


def _offset_us(delta: timedelta | None) -> int:
    """Return a UTC offset in microseconds (memoised: zones use a handful of offsets)."""
    if delta is None:
        return 0
    found = _OFFSETS.get(delta)
    if found is None:
        found = _OFFSETS[delta] = delta // _ONE_US
    return found


def naive_to_us(at: datetime) -> int:
    """Return the microsecond count of a naive datetime's fields (no zone applied)."""
    seconds = (at.toordinal() - 1) * 86_400 + at.hour * 3600 + at.minute * 60 + at.second
    return seconds * US + at.microsecond


def _naive(wall: int) -> datetime:
    day, rest = divmod(wall, DAY_US)
    return datetime.fromordinal(day + 1) + timedelta(microseconds=rest)


class Zone:
    """Converts between wall time and instants in one zone, caching per-day offsets."""

    __slots__ = ("_days", "_midnights", "tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        # wall day ordinal -> offset (us) valid for the whole day, or None on a DST day
        self._days: dict[int, int | None] = {}
        self._midnights: dict[int, int] = {}  # wall day ordinal -> offset at its midnight (fold 0)

    def _wall_offset(self, wall: int, fold: int) -> int:
        return _offset_us(self.tz.utcoffset(_naive(wall).replace(fold=fold)))

    def day_offset(self, day: int) -> int | None:
        """Return the offset that holds for all of wall day `day`, None if a transition touches it.

        Comparing the offsets at this midnight and the next (fold 0) catches every change:
        one during the day, a gap or a repeat starting at midnight (fold 0 reads the
        offset before it), and a repeat ending at the next midnight. Zones change at most
        once a day.
        """
        offset = self._days.get(day, _UNSET)
        if offset is _UNSET:
            if len(self._days) > 16384:  # ~45 years of days; shared by every schedule in the zone
                self._days.clear()
                self._midnights.clear()
            first, second = self._midnight(day), self._midnight(day + 1)
            offset = first if first == second else None
            self._days[day] = offset
        return offset  # type: ignore[return-value]

    def _midnight(self, day: int) -> int:
        offset = self._midnights.get(day)
        if offset is None:
            offset = self._midnights[day] = _offset_us(self.tz.utcoffset(datetime.fromordinal(day)))
        return offset

    def to_utc(self, wall: int) -> int:
        """Return the instant of a wall time.

        A repeated wall time (fall back) gives its first occurrence; a skipped one (spring
        forward) gives the first valid instant after the gap, the transition itself.
        """
        offset = self._days.get(wall // DAY_US + 1, _UNSET)
        if offset is _UNSET:
            offset = self.day_offset(wall // DAY_US + 1)
        if offset is not None:
            return wall - offset  # type: ignore[operator]
        before, after = self._wall_offset(wall, 0), self._wall_offset(wall, 1)
        if before >= after:  # unique (equal) or repeated: fold 0 is the earlier instant
            return wall - before
        return self._transition(wall - after, wall - before)

    def occurrences(self, wall: int) -> tuple[int, ...]:
        """Return every instant showing a wall time: one, two (fall back) or the gap's end."""
        if self.day_offset(wall // DAY_US + 1) is not None:
            return (self.to_utc(wall),)
        before, after = self._wall_offset(wall, 0), self._wall_offset(wall, 1)
        if before > after:
            return (wall - before, wall - after)
        return (self.to_utc(wall),)

    def _transition(self, low: int, high: int) -> int:
        """Return the first instant in (low, high] that uses the later offset."""
        late = self.utc_offset(high)
        while high - low > US:
            mid = (low + high) // 2 // US * US
            if mid <= low:
                break
            if self.utc_offset(mid) == late:
                high = mid
            else:
                low = mid
        return high

    def utc_offset(self, instant: int) -> int:
        """Return the zone's offset at an instant."""
        return _offset_us(self.to_datetime(instant, self.tz).utcoffset())

    def to_wall(self, instant: int) -> int:
        """Return the wall time of an instant."""
        wall = self._plain_wall(instant)
        return instant + self.utc_offset(instant) if wall is None else wall

    def _plain_wall(self, instant: int) -> int | None:
        """Return the wall time of an instant on a day without a transition, else None."""
        days = self._days
        guess = days.get(instant // DAY_US + 1, _UNSET)
        if guess is _UNSET:
            guess = self.day_offset(instant // DAY_US + 1)
        if guess is None:
            return None
        wall = instant + guess  # type: ignore[operator]
        offset = days.get(wall // DAY_US + 1, _UNSET)
        if offset is _UNSET:
            offset = self.day_offset(wall // DAY_US + 1)
        return wall if offset == guess else None

    def from_datetime(self, at: datetime) -> int:
        """Return the instant of a datetime; a naive one is wall time here (PEP 495 fold)."""
        if at.tzinfo is None:
            return naive_to_us(at) - _offset_us(self.tz.utcoffset(at))
        return naive_to_us(at) - _offset_us(at.utcoffset())

    def to_datetime(self, instant: int, like: tzinfo | None) -> datetime:
        """Return an instant as an aware datetime in `like`, or as naive wall time here if None."""
        if like is None and (wall := self._plain_wall(instant)) is not None:
            seconds, micro = divmod(wall, US)
            # a day without a transition: plain arithmetic, no fold to carry
            return _WALL_EPOCH + timedelta(0, seconds - _UNIX_EPOCH_S, micro)
        seconds, micro = divmod(instant, US)
        at = datetime.fromtimestamp(seconds - _UNIX_EPOCH_S, like or self.tz)
        if micro:
            at = at.replace(microsecond=micro)
        return at.replace(tzinfo=None) if like is None else at


@lru_cache(maxsize=64)
def zone_for(name: str | None) -> Zone:
    """Return the shared Zone for an IANA name (None: the local zone).

    Shared per process like zoneinfo's own cache, so every schedule in a zone reuses the
    per-day offsets the others have looked up.

    Raises:
        ScheduleError: the name is not a known IANA zone.
    """
    return Zone(zone_info(name))
