"""ScheduledStore.insert_many: bulk rows in one transaction under one revision."""

from __future__ import annotations

import uuid

from jobengine.store import Store

NOW = 1_700_000_000_000


def _row(i: int) -> dict[str, object]:
    return {
        "uuid": str(uuid.uuid4()),
        "metadata": "Bulk",
        "method": "tests.integration.jobs:add",
        "use": True,
        "schedule": '{"days_repeat_period": 1}',
        "params": f"[{i}, 1]",
        "due_from_ms": NOW,
        "created_ms": NOW,
        "changed_ms": NOW,
    }


def test_insert_many_one_revision(store: Store) -> None:
    before = store.scheduled.revision()
    rows = [_row(i) for i in range(3000)]
    assert store.scheduled.insert_many(rows) == 3000
    after = store.scheduled.revision()
    assert after == before + 1
    got = store.scheduled.changed_since(before)
    assert len(got) == 3000
    assert {r.uuid for r in got} == {r["uuid"] for r in rows}
    assert all(r.revision == after and r.use and r.restart_count == 3 for r in got)
    assert store.scheduled.insert_many([]) == 0
