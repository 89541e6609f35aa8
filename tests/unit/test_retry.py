"""The retry rule: how long a failed job waits for its next attempt, or whether it ends."""

from __future__ import annotations

import math

import pytest

from jobengine.retry import RETRY_LATER_COUNT, Retry, backoff_s, retry_delay_s


def test_a_failure_without_a_policy_is_final() -> None:
    assert retry_delay_s(1, None, None) is None


def test_a_policy_retries_count_times_with_its_backoff() -> None:
    policy = Retry(count=3, interval=10, backoff=2.0)
    assert [retry_delay_s(a, policy, None) for a in (1, 2, 3, 4)] == [10.0, 20.0, 40.0, None]


def test_a_policy_without_backoff_waits_its_interval_each_time() -> None:
    policy = Retry(count=2, interval=1.5)
    assert [retry_delay_s(a, policy, None) for a in (1, 2, 3)] == [1.5, 1.5, None]


def test_a_zero_count_policy_never_retries() -> None:
    assert retry_delay_s(1, Retry(count=0), None) is None
    assert retry_delay_s(1, Retry(count=0), 5.0) is None


def test_retry_later_is_honoured_up_to_the_policy_count() -> None:
    policy = Retry(count=2, interval=100, backoff=3.0)
    assert [retry_delay_s(a, policy, 7.0) for a in (1, 2, 3)] == [7.0, 7.0, None]


def test_retry_later_without_a_policy_gets_three_more_attempts() -> None:
    assert RETRY_LATER_COUNT == 3
    assert [retry_delay_s(a, None, 0.5) for a in (1, 2, 3, 4)] == [0.5, 0.5, 0.5, None]


def test_backoff_is_zero_for_a_zero_interval_and_inf_on_overflow() -> None:
    assert backoff_s(0, 10.0, 10_000) == 0.0
    assert backoff_s(1, 10.0, 1_000) == math.inf
    assert backoff_s(2, 3.0, 1) == 2.0


def test_a_policy_whose_last_wait_passes_a_century_is_refused() -> None:
    from jobengine.errors import JobEngineError

    with pytest.raises(JobEngineError, match="100 years"):
        Retry(count=1000, interval=1, backoff=2.0)
