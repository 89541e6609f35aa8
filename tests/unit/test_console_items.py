"""The resource-queue screen's pure parts: the item editor's texts read into a change, and the
filters in the title."""

from __future__ import annotations

import pytest

from jobengine.console.items import Edit, EditError, parse_key, read_edit
from jobengine.console.query import Query

SAME = {"status": "new", "priority": "2", "tags": "a, b"}


def test_the_editor_changes_only_the_fields_whose_text_changed() -> None:
    assert read_edit(SAME, SAME).is_empty
    assert read_edit({**SAME, "priority": " 5 "}, SAME) == Edit(priority=5)
    assert read_edit({**SAME, "tags": "b, c, b,"}, SAME) == Edit(tags=("b", "c"))
    assert read_edit({**SAME, "tags": ""}, SAME) == Edit(tags=())  # every tag removed
    assert read_edit({**SAME, "status": "error"}, SAME) == Edit(status="error")


@pytest.mark.parametrize(
    ("field", "text"),
    [("priority", "-1"), ("priority", "two"), ("status", "done"), ("tags", "x" * 31)],
)
def test_the_editor_refuses_a_bad_field_and_names_it(field: str, text: str) -> None:
    with pytest.raises(EditError) as caught:
        read_edit({**SAME, field: text}, SAME)
    assert caught.value.field == field


def test_a_row_key_names_the_queue_and_the_id() -> None:
    assert parse_key("mail.out:eu/42") == ("mail.out:eu", 42)


def test_the_title_says_the_resource_filters() -> None:
    query = Query(queue="mail", state="new", tag="urgent")
    assert query.describe("resources") == "queue mail, status new, tag urgent"
    assert Query().describe("resources") == ""
