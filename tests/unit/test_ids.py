"""New uuids are random version-4 UUIDs in their usual text form."""

from __future__ import annotations

import uuid

from jobengine.ids import new_uuid


def test_new_uuids_are_random_version_4_uuids_as_text() -> None:
    made = [new_uuid() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # every variant digit shows up: its two free bits are random
    assert {text[19] for text in made} == set("89ab")
