"""New uuids: random version-4 UUIDs, or version-7 ones that sort by time, as text."""

from __future__ import annotations

import uuid

import pytest

from jobengine.ids import new_uuids, time_ordered_uuids


def check(made: list[str]) -> None:
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize("n", [0, 1, 2, 256, 2000])
def test_new_uuids_are_random_version_4_uuids_as_text(n: int) -> None:
    made = new_uuids(n)
    assert len(made) == n
    check(made)
    if n >= 256:  # the variant digit's two free bits and every other digit are random
        assert {text[19] for text in made} == set("89ab")
        assert {c for text in made for c in text.replace("-", "")} == set("0123456789abcdef")


def test_time_ordered_uuids_are_version_7_uuids_of_the_instant_given() -> None:
    now_ms = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
    made = time_ordered_uuids(300, now_ms)
    assert len(made) == 300
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert parsed.int >> 80 == now_ms  # the first 48 bits
    # The 74 bits after the time and version are random: every place of theirs varies.
    random = [p for p in range(15, 36) if p not in (18, 23)]
    assert all(len({text[p] for text in made}) > 1 for p in random)
    assert {text[19] for text in made} == set("89ab")
    later = time_ordered_uuids(300, now_ms + 1)
    assert max(made) < min(later)  # text order is time order
