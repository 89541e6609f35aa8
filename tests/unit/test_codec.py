"""Tagged JSON: what the store holds for arguments, results, progress and messages."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import IntEnum

import pytest

from jobengine import codec
from jobengine.errors import JobEngineError, SerializationError


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        42,
        -1.5,
        "text with ünïcode",
        [1, [2, [3]]],
        {"a": {"b": [1, "x"]}},
        datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1, 12, 0),
        date(2024, 2, 29),
        time(23, 59, 59, 123456),
        Decimal("12345678901234567890.000000001"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\x00\xffbytes",
        {"$dt": "not a tag here"},
        {"$obj": 1},
    ],
)
def test_values_round_trip_with_their_types(value: object) -> None:
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize(
    "value",
    [[], [0], [-7, 12, 2**70], [1, True], [1, None], [1, "a b"], [1, 2.5], [IntEnum("E", "A").A]],
)
def test_lists_of_scalars_are_their_json_text(value: list[object]) -> None:
    # Lists of ints take a fast path of their own: the same text as the JSON encoder's.
    assert codec.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_an_int_too_long_to_write_is_refused() -> None:
    with pytest.raises(SerializationError, match=r"^args: Exceeds the limit"):
        codec.dumps([1, 10**5000], what="args")


def test_tuples_come_back_as_lists() -> None:
    assert codec.loads(codec.dumps((1, (2, 3)))) == [1, [2, 3]]


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (object(), "value: a value of type object"),
        ([1, {2, 3}], "value[1]: a value of type set"),
        ({"k": float("nan")}, "value['k']: nan is not a finite number"),
        ({1: "x"}, "dict key 1 is not a string"),
    ],
)
def test_unstorable_values_are_refused_naming_where(value: object, where: str) -> None:
    with pytest.raises(SerializationError, match=re.escape(where)):
        codec.dumps(value)


def test_refusal_is_a_job_engine_error() -> None:
    with pytest.raises(JobEngineError):
        codec.dumps(datetime.now(UTC).astimezone().tzinfo)


def test_none_text_decodes_to_none() -> None:
    assert codec.loads(None) is None
