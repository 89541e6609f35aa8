"""Every refusal is a JobEngineError naming the argument and its value, before anything is
written; waits trust the store, not wake-ups; a purged job's handle says it is gone."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from jobengine import Engine, JobState, Retry, RetryLater
from jobengine.clock import to_ms
from jobengine.errors import JobEngineError, JobGoneError, SerializationError
from jobengine.launch import check_wait_timeout
from jobengine.retry import retry_delay_s

ADD = "tests.integration.jobs:add"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Engine]:
    """A client engine (never started): nobody runs its jobs."""
    engine = Engine(f"sqlite:///{tmp_path}/jobs.db")
    try:
        yield engine
    finally:
        engine.close()


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# (keyword, bad value, words of the refusal): execute's and batch.execute's alike.
BAD_KEYWORDS: list[tuple[str, Any, str]] = [
    ("priority", "5", "whole number"),
    ("priority", True, "whole number"),
    ("priority", 1.5, "whole number"),
    ("priority", 2**40, "between"),
    ("priority", -(2**40), "between"),
    ("delay", "1", "number of seconds"),
    ("delay", math.nan, "finite"),
    ("delay", math.inf, "finite"),
    ("delay", -1, ">= 0"),
    ("delay", 1e20, "at most"),
    ("timeout", 0, "> 0"),
    ("timeout", -5, "> 0"),
    ("timeout", math.nan, "finite"),
    ("timeout", math.inf, "finite"),
    ("timeout", "10", "number of seconds"),
    ("timeout", 1e20, "at most"),
    ("run_at", "2026-01-01", "datetime"),
    ("run_at", date(2026, 1, 1), "datetime"),
    ("run_at", datetime.max, "9999"),
    ("run_at", datetime.min, "placed in time"),
    ("queue", "", "1 to 100"),
    ("queue", "q" * 101, "1 to 100"),
    ("queue", 5, "string"),
    ("queue", "a\x00b", "NUL"),
    ("queue", "\udcff", "surrogate"),
    ("retry", 3, "Retry("),
    ("retry", {"count": 3}, "Retry("),
    ("key", 5, "string"),
    ("key", "\udcff", "surrogate"),
    ("key", "k\x00", "NUL"),
    ("key", "k" * 2000, "bytes"),
    ("description", None, "string"),
    ("description", "\ud800x", "surrogate"),
    ("on_conflict", "nope", "error, queue, skip"),
    ("on_conflict", ["error"], "error, queue, skip"),
    ("args", 5, "list"),
    ("args", "abc", "list"),
    ("kwargs", [1], "dict"),
    ("kwargs", {1: 2}, "string keys"),
]


@pytest.mark.parametrize(("option", "value", "words"), BAD_KEYWORDS)
def test_execute_refuses_a_bad_keyword_naming_it_and_its_value(
    client: Engine, option: str, value: Any, words: str
) -> None:
    options: dict[str, Any] = {"args": [1, 2], option: value}
    with pytest.raises(JobEngineError) as info:
        client.background.execute(ADD, **options)
    text = str(info.value)
    assert text.startswith(f"{option}="), text
    assert words in text
    assert repr(value)[:20] in text
    assert client.store.jobs.select() == []


def test_deep_arguments_are_a_serialization_error_naming_the_path(client: Engine) -> None:
    with pytest.raises(SerializationError, match=r"args\[0\]\[0\].*nest deeper than"):
        client.background.execute(ADD, [nested(900), 1])
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(SerializationError, match="contain"):
        client.background.execute(ADD, [circular, 1])
    assert client.store.jobs.select() == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"count": -1}, "Retry.count=-1"),
        ({"count": "3"}, "Retry.count='3'"),
        ({"count": True}, "Retry.count=True"),
        ({"count": 10**7}, "Retry.count=10000000"),
        ({"interval": math.nan}, "Retry.interval=nan"),
        ({"interval": math.inf}, "Retry.interval=inf"),
        ({"interval": -1}, "Retry.interval=-1"),
        ({"interval": "1"}, "Retry.interval='1'"),
        ({"backoff": 0.5}, "Retry.backoff=0.5"),
        ({"backoff": math.nan}, "Retry.backoff=nan"),
        ({"backoff": math.inf}, "Retry.backoff=inf"),
        ({"backoff": "2"}, "Retry.backoff='2'"),
        ({"count": 2000, "interval": 1, "backoff": 2}, "100 years"),
    ],
)
def test_retry_refuses_bad_fields(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(JobEngineError, match=words.replace("(", r"\(")):
        Retry(**fields)


def test_retry_with_no_interval_may_have_any_backoff() -> None:
    assert retry_delay_s(5000, Retry(count=5000, interval=0, backoff=10), None) == 0.0


@pytest.mark.parametrize("delay", [math.nan, -1, math.inf, "soon", 1e20])
def test_retry_later_refuses_a_bad_delay(delay: Any) -> None:
    with pytest.raises(JobEngineError, match=r"RetryLater\.delay="):
        RetryLater(delay)


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"state": "nope"}, "state='nope'"),
        ({"state": 5}, "state=5"),
        ({"key": 5}, "key=5"),
        ({"queue": b"q"}, "queue=b'q'"),
        ({"begin_after": "yesterday"}, "begin_after='yesterday'"),
        ({"begin_before": 5}, "begin_before=5"),
        ({"end_before": date(2026, 1, 1)}, "end_before="),
        ({"limit": -1}, "limit=-1"),
        ({"limit": "5"}, "limit='5'"),
    ],
)
def test_get_refuses_bad_filters(client: Engine, filters: dict[str, Any], words: str) -> None:
    with pytest.raises(JobEngineError, match=words.replace("(", r"\(")):
        client.background.get(**filters)


def test_get_takes_a_state_name_in_any_case(client: Engine) -> None:
    job = client.background.execute(ADD, [1, 2])
    assert client.background.get(state="active") == [job]
    assert client.background.get(state=JobState.COMPLETED) == []


@pytest.mark.parametrize(("timeout", "words"), [(math.nan, "nan"), (-1, "-1"), ("1", "'1'")])
def test_waits_refuse_nan_negative_and_non_numbers(
    client: Engine, timeout: Any, words: str
) -> None:
    job = client.background.execute(ADD, [1, 2])
    for call in (job.wait, job.result, lambda t: client.background.wait([job], t)):
        with pytest.raises(JobEngineError, match=f"timeout={words}"):
            call(timeout)


def test_wait_timeout_inf_means_no_limit() -> None:
    assert check_wait_timeout(math.inf) is None
    assert check_wait_timeout(None) is None
    assert check_wait_timeout(0) == 0.0


def test_background_wait_refuses_what_is_not_a_job(client: Engine) -> None:
    with pytest.raises(JobEngineError, match="jobs="):
        client.background.wait(["not-a-job"])  # type: ignore[list-item]


def test_a_forged_wake_up_does_not_end_a_wait(client: Engine) -> None:
    job = client.background.execute(ADD, [1, 2])
    stop = threading.Event()

    def forge() -> None:
        while not stop.wait(0.02):
            client.hub.ended([job.uuid])

    forger = threading.Thread(target=forge, daemon=True)
    forger.start()
    try:
        assert job.wait(timeout=0.5) is False
        with pytest.raises(TimeoutError):
            job.result(timeout=0.5)
    finally:
        stop.set()
        forger.join()
    assert job.state is JobState.ACTIVE


def test_a_purged_jobs_handle_says_it_is_gone(client: Engine) -> None:
    job = client.background.execute(ADD, [1, 2])
    job.cancel()  # nobody claimed it: it ends CANCELED at once
    assert job.state is JobState.CANCELED
    later = to_ms(datetime(2100, 1, 1, tzinfo=UTC))
    assert client.store.jobs.purge(later, keep_ms=0, max_finished=0) == 1
    with pytest.raises(JobGoneError, match="no longer in the store"):
        job.result()
    with pytest.raises(JobGoneError, match=job.uuid):
        job.wait(timeout=1)
    with pytest.raises(JobGoneError):
        client.background.wait([job])
