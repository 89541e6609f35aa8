"""The resource-queue screen's keys (`4`): the item editor (status, priority, tags, checked as
you type), the filters (queue, status, tag), and what `e`, `u`, `d` and `enter` do there."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from jobengine.console import items
from jobengine.console.items import STATUSES, Edit, EditError
from jobengine.console.query import Query
from jobengine.console.screens import DetailScreen
from jobengine.errors import JobEngineError

if TYPE_CHECKING:
    from jobengine.console.app import ConsoleApp


class ItemEditor(ModalScreen[Edit | None]):
    """Edit the status, priority and tags of one item or several: a field changed applies to
    every one, a field left as it was changes none. ctrl+s (or enter) saves, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = """
    ItemEditor { align: center middle; }
    ItemEditor > Vertical { width: 80; height: auto; border: round $accent;
                            background: $surface; padding: 1 2; }
    ItemEditor Label { margin-top: 1; }
    ItemEditor Input.-invalid-field { background: $error 40%; }
    ItemEditor #error { color: $error; height: auto; }
    """

    def __init__(self, title: str, initial: dict[str, str]) -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.change: Edit | None = Edit()

    def compose(self) -> ComposeResult:
        status = self.initial["status"]
        options = [(s, s) for s in STATUSES]
        with Vertical():
            yield Static(f"[b]{escape(self.title_text)}[/b]   ctrl+s save   escape cancel")
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
            yield Static(id="error")

    def texts(self) -> dict[str, str]:
        status = self.query_one("#status", Select).value
        return {
            "status": status if isinstance(status, str) else "",
            "priority": self.query_one("#priority", Input).value,
            "tags": self.query_one("#tags", Input).value,
        }

    def check(self) -> None:
        """Read the form again; mark the field in error and say why."""
        for box in self.query(Input):
            box.remove_class("-invalid-field")
        try:
            self.change = items.read_edit(self.texts(), self.initial)
        except EditError as exc:
            self.change = None
            self.query_one(f"#{exc.field}").add_class("-invalid-field")
            self.query_one("#error", Static).update(escape(str(exc)))
            return
        self.query_one("#error", Static).update("")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.check()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        self.check()
        if self.change is None:
            self.notify("a field has an error: fix it or press escape", severity="error")
            return
        self.dismiss(self.change)


class ItemFilterScreen(ModalScreen[Query | None]):
    """The resource items' filters: queue, status, tag. ctrl+s (or enter) applies them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Apply"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = """
    ItemFilterScreen { align: center middle; }
    ItemFilterScreen > Vertical { width: 80; height: auto; border: round $accent;
                                  background: $surface; padding: 1 2; }
    ItemFilterScreen Label { margin-top: 1; }
    """

    def __init__(self, query: Query, queues: list[str]) -> None:
        super().__init__()
        self.query_was = query
        self.queues = queues

    def compose(self) -> ComposeResult:
        q = self.query_was
        names = {*self.queues, q.queue} - {""}  # a chosen queue stays while it is empty
        queues = [("any", ""), *((n, n) for n in sorted(names))]
        with Vertical():
            yield Static("[b]Filters[/b]   ctrl+s (or enter in a text field) apply   escape cancel")
            yield Label("queue")
            yield Select(queues, value=q.queue, allow_blank=False, id="queue")
            yield Label("status")
            yield Select(
                [("any", ""), *((s, s) for s in STATUSES)],
                value=q.state,
                allow_blank=False,
                id="status",
            )
            yield Label("tag")
            yield Input(q.tag, placeholder="any tag", id="tag")

    def action_apply(self) -> None:
        tag = self.query_one("#tag", Input).value.strip()
        if len(tag) > items.MAX_TAG:
            self.notify(f"a tag has at most {items.MAX_TAG} characters", severity="error")
            return
        queue = self.query_one("#queue", Select).value
        status = self.query_one("#status", Select).value
        self.dismiss(
            replace(
                self.query_was,
                queue=queue if isinstance(queue, str) else "",
                state=status if isinstance(status, str) else "",
                tag=tag,
            )
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()


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
