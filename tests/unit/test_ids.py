"""New uuids are random version-4 UUIDs in their usual text form."""

from __future__ import annotations

import uuid

import pytest

from jobengine.ids import new_uuids


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
