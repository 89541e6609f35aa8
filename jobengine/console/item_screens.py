"""The resource-queue screen's keys (`4`): the item editor (status, priority, tags, checked as
you type), the filters (queue, status, tag), and what `e`, `u`, `d` and `enter` do there."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Label, Select

from jobengine.console import items
from jobengine.console.editor import choice
from jobengine.console.formscreen import FormScreen
from jobengine.console.items import STATUSES, Edit, EditError
from jobengine.console.query import Query
from jobengine.console.screens import DetailScreen
from jobengine.errors import JobEngineError

if TYPE_CHECKING:
    from jobengine.console.app import ConsoleApp


class ItemEditor(FormScreen[Edit]):
    """Edit the status, priority and tags of one item or several: a field changed applies to
    every one, a field left as it was changes none. ctrl+s (or enter) saves, escape cancels."""

    LIVE = True

    def __init__(self, title: str, initial: dict[str, str]) -> None:
        super().__init__(title)
        self.initial = initial

    def fields(self) -> ComposeResult:
        status = self.initial["status"]
        options = [(s, s) for s in STATUSES]
        yield Label("status")
        yield Select(options, value=status or Select.NULL, prompt="(as they are)", id="status")
        yield Label("priority")
        yield Input(self.initial["priority"], placeholder="a whole number >= 0", id="priority")
        yield Label("tags")
        yield Input(
            self.initial["tags"],
            placeholder="comma-separated, up to 30 characters each",
            id="tags",
        )

    def read(self) -> Edit:
        texts = {name: self.text(name) for name in items.EDIT_FIELDS}
        return items.read_edit(texts, self.initial)


class ItemFilterScreen(FormScreen[Query]):
    """The resource items' filters: queue, status, tag. ctrl+s (or enter) applies them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Apply"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    HINT = "ctrl+s (or enter in a text field) apply   escape cancel"

    def __init__(self, query: Query, queues: list[str]) -> None:
        super().__init__("Filters")
        self.query_was = query
        self.queues = queues

    def fields(self) -> ComposeResult:
        q = self.query_was
        names = {*self.queues, q.queue} - {""}  # a chosen queue stays while it is empty
        queues = [("any", ""), *((n, n) for n in sorted(names))]
        yield from choice("queue", queues, q.queue)
        yield from choice("status", [("any", ""), *((s, s) for s in STATUSES)], q.state)
        yield Label("tag")
        yield Input(q.tag, placeholder="any tag", id="tag")

    def read(self) -> Query:
        tag = self.text("tag").strip()
        if len(tag) > items.MAX_TAG:
            raise EditError("tag", tag, f"a tag has at most {items.MAX_TAG} characters")
        return replace(self.query_was, queue=self.text("queue"), state=self.text("status"), tag=tag)


# -- the keys on the resource-queue screen --------------------------------------------------


def filter_form(app: ConsoleApp) -> None:
    vs = app.view_state

    def chosen(query: Query | None) -> None:
        if query is not None:
            vs.query = query
            vs.selected.clear()
            app.refresh_rows()

    app.push_screen(ItemFilterScreen(vs.query, list(app.engine.resources.queues())), chosen)


def details(app: ConsoleApp, key: str) -> None:
    app.push_screen(DetailScreen(items.item_detail(app.engine, key)))


def edit(app: ConsoleApp) -> None:
    rows = app.targets()
    if not rows:
        app.notify("no row here", severity="warning")
        return
    try:
        found = [items.item(app.engine, r.key) for r in rows]
    except JobEngineError as exc:
        app.notify(str(exc), severity="error")
        return
    title = f"Edit {rows[0].key}" if len(rows) == 1 else f"Edit {len(rows)} resources"

    def saved(change: Edit | None) -> None:
        if change is not None and not change.is_empty:
            app._each(rows, lambda r: items.edit(app.engine, r.key, change))

    app.push_screen(ItemEditor(title, items.edit_texts(found)), saved)


def unlock(app: ConsoleApp) -> None:
    rows = [r for r in app.targets() if "locked" in r.flags]
    app._each(rows, lambda r: items.unlock(app.engine, r.key), "nothing locked here")


def delete(app: ConsoleApp) -> None:
    rows = app.targets()
    if not rows:
        app.notify("no row here", severity="warning")
        return
    locked = sum(1 for r in rows if "locked" in r.flags)
    note = f" ({locked} locked: their holders lose them)" if locked else ""
    app._confirm(
        f"Delete {len(rows)} resource(s){note}?", rows, lambda r: items.delete(app.engine, r.key)
    )
