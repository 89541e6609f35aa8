"""When a started engine truncates SQLite's -wal file: once per quiet spell of the store."""

from __future__ import annotations

from jobengine.checkpoint import IdleTruncate

BIG = 4_000_000


def test_truncate_waits_until_the_store_was_quiet_for_the_idle_time() -> None:
    idle = IdleTruncate(idle_s=5.0, quiet_frames=64)
    assert not idle.is_due(0.0, frames=3, wal_bytes=BIG)
    assert not idle.is_due(4.9, frames=3, wal_bytes=BIG)
    assert idle.is_due(5.0, frames=3, wal_bytes=BIG)


def test_a_burst_of_writes_starts_the_idle_time_again() -> None:
    idle = IdleTruncate(idle_s=5.0, quiet_frames=64)
    idle.is_due(0.0, frames=0, wal_bytes=BIG)
    assert not idle.is_due(4.0, frames=500, wal_bytes=BIG)
    assert not idle.is_due(8.5, frames=64, wal_bytes=BIG)
    assert idle.is_due(9.0, frames=10, wal_bytes=BIG)


def test_a_burst_left_in_the_wal_does_not_count_again() -> None:
    idle = IdleTruncate(idle_s=5.0, quiet_frames=64)
    idle.is_due(0.0, frames=0, wal_bytes=BIG)
    assert not idle.is_due(1.0, frames=500, wal_bytes=BIG)
    assert not idle.is_due(5.9, frames=500, wal_bytes=BIG)  # nothing written since
    assert idle.is_due(6.0, frames=500, wal_bytes=BIG)


def test_truncate_runs_once_per_quiet_spell() -> None:
    idle = IdleTruncate(idle_s=5.0)
    idle.is_due(0.0, frames=2, wal_bytes=BIG)
    assert idle.is_due(5.0, frames=2, wal_bytes=BIG)
    idle.truncated(True)
    assert not idle.is_due(6.0, frames=2, wal_bytes=8192)  # a heartbeat wrote since
    assert not idle.is_due(60.0, frames=2, wal_bytes=8192)
    idle.is_due(61.0, frames=5000, wal_bytes=BIG)
    assert idle.is_due(66.0, frames=1, wal_bytes=BIG)


def test_a_truncate_that_readers_held_off_is_tried_again() -> None:
    idle = IdleTruncate(idle_s=5.0)
    idle.is_due(0.0, frames=0, wal_bytes=BIG)
    assert idle.is_due(5.0, frames=0, wal_bytes=BIG)
    idle.truncated(False)
    assert idle.is_due(5.5, frames=0, wal_bytes=BIG)


def test_an_empty_wal_file_is_not_truncated() -> None:
    idle = IdleTruncate(idle_s=5.0)
    idle.is_due(0.0, frames=0, wal_bytes=0)
    assert not idle.is_due(10.0, frames=0, wal_bytes=0)
