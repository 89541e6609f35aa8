"""The console's resource-queue screen (4), driven by Pilot on a real client engine: the items
with their locks and holders, details, the editor (e), unlock (u), delete (d), the filters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from jobengine import Engine, ResourceStatus
from jobengine.clock import to_ms
from jobengine.console.app import ConsoleApp
from jobengine.console.item_screens import ItemEditor, ItemFilterScreen
from jobengine.console.screens import ConfirmScreen, DetailScreen
from jobengine.resources import ResourceItem
from jobengine.store.resources import Ask
from tests.integration.console_support import cells, column, drive, go_to, static_text

pytestmark = pytest.mark.timeout(120)


@dataclass
class Items:
    free: ResourceItem
    urgent: ResourceItem
    locked: ResourceItem  # read- and write-locked by the stuck background job
    mail: ResourceItem
    holder: str


@pytest.fixture
def engine(console_engine: Engine) -> Engine:
    return console_engine


@pytest.fixture
def filled(engine: Engine) -> Items:
    invoices = engine.resources.queue("invoices")
    free = invoices.put({"n": 1}, params={"src": "mail"})
    urgent = invoices.put({"n": 2}, tags=["urgent", "big"], priority=3)
    locked = invoices.put({"n": 3, "text": "x" * 60}, priority=2)
    mail = engine.resources.queue("mail").put("hello", tags=["urgent"])
    stuck = engine.background.get(description="stuck")[0]
    # a job's take, as a robot inside that job would (the client engine is no worker)
    taken = engine.store.resources.take(
        "invoices", Ask(stuck.uuid, to_ms(engine.clock.now())), [], "both", None
    )
    assert taken is not None and taken.id == urgent.id  # priority first
    return Items(free, urgent, locked, mail, stuck.uuid)


def notices(app: ConsoleApp) -> str:
    return "\n".join(n.message for n in app._notifications)


def footer_keys(app: ConsoleApp) -> dict[str, str]:
    return {k: b.binding.description for k, b in app.screen.active_bindings.items() if b.enabled}


def test_key_4_lists_every_queues_items_with_status_tags_and_lock_holders(
    engine: Engine, filled: Items
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4")
        assert app.view_name == "resources"
        assert column(app, "id") == [
            str(i.id) for i in (filled.urgent, filled.locked, filled.free, filled.mail)
        ]
        assert column(app, "queue") == ["invoices"] * 3 + ["mail"]
        assert column(app, "status") == ["in_progress", "new", "new", "new"]
        assert column(app, "tags")[0] == "urgent, big"
        assert column(app, "read lock")[0] == column(app, "write lock")[0] == "stuck (ACTIVE)"
        assert column(app, "read lock")[1:] == ["", "", ""]
        assert column(app, "value")[1].endswith("...") and len(column(app, "value")[1]) == 40
        assert "Resource queues: 4" in static_text(app, "#title")
        keys = footer_keys(app)
        assert (keys["e"], keys["u"], keys["4"]) == ("Edit", "Unlock", "Queues")
        assert "r" not in keys and "s" not in keys
        await pilot.press("1")
        keys = footer_keys(app)
        assert keys["e"] == "On/off" and "u" not in keys

    drive(engine, steps)


def test_enter_shows_an_items_value_params_and_its_holders_job_and_state(
    engine: Engine, filled: Items
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4")
        await pilot.press("enter")
        page = app.screen
        assert isinstance(page, DetailScreen)
        text = page.text()
        assert f"Resource invoices #{filled.urgent.id}" in text
        assert '"n": 2' in text and "urgent, big" in text
        assert f"read lock: job {filled.holder} (ACTIVE, stuck), until its job ends" in text
        assert f"write lock: job {filled.holder} (ACTIVE, stuck)" in text
        await pilot.press("escape")
        await go_to(app, pilot, str(filled.free.id), "id")
        await pilot.press("enter")
        page = app.screen
        assert isinstance(page, DetailScreen)
        assert '"src": "mail"' in page.text() and "Locks\n(none)" in page.text()

    drive(engine, steps)


def test_e_edits_status_priority_and_tags_of_the_selected_items(
    engine: Engine, filled: Items
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4")
        await go_to(app, pilot, str(filled.free.id), "id")
        await pilot.press("space")
        await go_to(app, pilot, str(filled.mail.id), "id")
        await pilot.press("space", "e")
        editor = app.screen
        assert isinstance(editor, ItemEditor)
        assert editor.initial == {"status": "new", "priority": "0", "tags": ""}
        editor.query_one("#priority", Input).value = "-1"
        await pilot.pause()
        error = str(editor.query_one("#error", Static).render())
        assert "priority '-1': give a whole number >= 0" in error
        await pilot.press("ctrl+s")
        assert app.screen is editor  # refused: still open
        editor.query_one("#priority", Input).value = "7"
        editor.query_one("#tags", Input).value = "checked, urgent"
        editor.query_one("#status", Select).value = "error"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        for it in (filled.free, filled.mail):
            now = engine.resources.queue(it.queue).get(it.id)
            assert now is not None
            assert (now.status, now.priority, now.tags) == (
                ResourceStatus.ERROR,
                7,
                ("checked", "urgent"),
            )
        assert not app.view_state.selected
        assert f"invoices/{filled.free.id}: error, priority 7, checked, urgent" in notices(app)

    drive(engine, steps)


def test_e_leaves_the_fields_not_changed_as_they_were(engine: Engine, filled: Items) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4", "a", "e")  # four items: mixed status, priority and tags
        editor = app.screen
        assert isinstance(editor, ItemEditor)
        assert editor.initial == {"status": "", "priority": "", "tags": ""}
        box = editor.query_one("#priority", Input)
        box.focus()
        box.value = "1"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        after = engine.resources.find()
        assert {i.priority for i in after} == {1}
        assert [i.tags for i in after if i.id == filled.urgent.id] == [("urgent", "big")]
        assert {i.status for i in after} == {ResourceStatus.NEW, ResourceStatus.IN_PROGRESS}
        taken_over = next(i.write_lock for i in after if i.id == filled.urgent.id)
        assert taken_over is not None and taken_over.holder.startswith("person:")
        said = f"invoices/{filled.urgent.id}: in_progress, priority 1, urgent, big (its write lock"
        assert said in notices(app)

    drive(engine, steps)


def test_u_unlocks_a_jobs_item_as_a_person(engine: Engine, filled: Items) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4")
        await go_to(app, pilot, str(filled.free.id), "id")
        await pilot.press("u")
        assert "nothing locked here" in notices(app)
        await go_to(app, pilot, str(filled.urgent.id), "id")
        await pilot.press("u")
        now = engine.resources.queue("invoices").get(filled.urgent.id)
        assert now is not None and now.read_lock is None and now.write_lock is None
        assert column(app, "read lock")[0] == ""
        assert f"invoices/{filled.urgent.id} unlocked (in_progress)" in notices(app)

    drive(engine, steps)


def test_d_deletes_items_after_y_and_n_keeps_them(engine: Engine, filled: Items) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4", "d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete 1 resource(s) (1 locked: their holders lose them)?" in app.screen.question
        await pilot.press("n")
        assert len(cells(app)) == 4
        await go_to(app, pilot, str(filled.mail.id), "id")
        await pilot.press("d", "y")
        assert engine.resources.queue("mail").get(filled.mail.id) is None
        assert str(filled.mail.id) not in column(app, "id")

    drive(engine, steps)


def test_f_filters_items_by_queue_status_and_tag_and_slash_by_text(
    engine: Engine, filled: Items
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4", "f")
        form = app.screen
        assert isinstance(form, ItemFilterScreen)
        form.query_one("#queue", Select).value = "invoices"
        form.query_one("#status", Select).value = "new"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert column(app, "id") == [str(filled.locked.id), str(filled.free.id)]
        assert "(queue invoices, status new)" in static_text(app, "#title")
        await pilot.press("f")
        form = app.screen
        assert isinstance(form, ItemFilterScreen)
        form.query_one("#queue", Select).value = ""
        form.query_one("#status", Select).value = ""
        form.query_one("#tag", Input).focus()
        form.query_one("#tag", Input).value = "urgent"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert column(app, "id") == [str(filled.urgent.id), str(filled.mail.id)]
        await pilot.press("slash", *"mail", "enter")
        assert column(app, "id") == [str(filled.mail.id)]

    drive(engine, steps)


def test_read_only_disables_edit_unlock_and_delete(engine: Engine, filled: Items) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4", "e", "u", "d")
        assert app.screen is app.screen_stack[0]
        now = engine.resources.queue("invoices").get(filled.urgent.id)
        assert now is not None and now.write_lock is not None
        assert len(engine.resources.find()) == 4
        assert not footer_keys(app).get("e")

    drive(engine, steps, read_only=True)
