"""The console app: the listings (scheduled jobs, background jobs, the event log, resource
queues, engines) over a client engine, read a page at a time off the UI thread and refreshed in
place every 2 s and on the store's notifications, with the actions of the contract's keys."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.markup import escape
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static

from jobengine.console import (
    actions,
    data,
    detail,
    item_screens,
    items,
    job_screens,
    live,
    runs,
    state,
)
from jobengine.console.data import PAGE, Row
from jobengine.console.editor import FilterScreen, PauseScreen, ScheduleEditor
from jobengine.console.query import Query
from jobengine.console.screens import ConfirmScreen, DetailScreen
from jobengine.console.table import JobTable
from jobengine.errors import JobEngineError

if TYPE_CHECKING:
    from jobengine.engine import Engine
    from jobengine.schedule import Schedule

logger = logging.getLogger(__name__)
REFRESH_S = 2.0
W = TypeVar("W", bound=Widget)
ACTIONS = {
    "run_now",
    "toggle_use",
    "cancel",
    "delete",
    "lock",
    "restart",
    "edit_schedule",
    "pause",
    "edit_item",
    "unlock_item",
    "add_scheduled",
    "start_job",
    "copy",
    "edit_fields",
    "run_here",
}  # off with --read-only
ONLY_ON = {  # shown on these views only (a key may do another action elsewhere)
    "filter_form": {"background", "events", "resources"},
    "edit_item": {"resources"},
    "unlock_item": {"resources"},
    "add_scheduled": {"scheduled"},
    "edit_fields": {"scheduled"},
    "run_here": {"scheduled"},
    "start_job": {"background"},
    "copy": {"scheduled", "background"},
}
NOT_ON_ITEMS = {"run_now", "toggle_use", "pause", "edit_schedule", "cancel", "restart"}


@dataclass(frozen=True)
class View:
    name: str
    title: str
    columns: tuple[str, ...]
    load: Callable[[Engine, Query, str, int, int], list[Row]]  # query, text, offset, limit


VIEWS = {
    "scheduled": View("scheduled", "Scheduled jobs", data.SCHEDULED_COLUMNS, data.scheduled_rows),
    "background": View(
        "background", "Background jobs", data.BACKGROUND_COLUMNS, data.background_rows
    ),
    "events": View("events", "Event log", data.EVENT_COLUMNS, data.event_rows),
    "resources": View("resources", "Resource queues", items.ITEM_COLUMNS, items.item_rows),
    "engines": View("engines", "Engines", data.ENGINE_COLUMNS, data.engine_rows),
}


@dataclass(frozen=True)
class Ask:
    """What one read is for: a view, its filters and the page."""

    view: str
    query: Query
    text: str
    offset: int


@dataclass(frozen=True)
class Got:
    """What a read found: the header and one page of rows (a row more than the page when
    there is a next one), or why the store could not be read."""

    ask: Ask
    head: data.Header | None
    rows: list[Row]
    error: str = ""


class ReadDone(Message):
    """A read of the store ended (posted from the reading thread)."""

    def __init__(self, got: Got) -> None:
        super().__init__()
        self.got = got


class StoreChanged(Message):
    """The store notified a change (posted from the hub's listener thread)."""


class ConsoleApp(App[None]):
    """`jobengine console`: the engine is a client one, owned (and closed) by the caller."""

    TITLE = "jobengine console"
    ENABLE_COMMAND_PALETTE = False  # its ^p would crowd the footer; every action has a key
    # Short words: each view's keys fit a 200-column footer (the scheduled jobs' take 198).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "view('scheduled')", "Scheduled"),
        Binding("2", "view('background')", "Jobs"),
        Binding("3", "view('events')", "Events"),
        Binding("4", "view('resources')", "Queues"),
        Binding("5", "view('engines')", "Engines"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f", "filter_form", "Filters"),
        Binding("space", "select", "Select"),
        Binding("a", "select_all", "All"),
        Binding("r", "run_now", "Run now"),
        Binding("x", "run_here", "Run here"),
        Binding("e", "toggle_use", "On/off"),
        Binding("e", "edit_item", "Edit"),  # on the resource-queue screen, instead of On/off
        Binding("u", "unlock_item", "Unlock"),
        Binding("p", "pause", "Pause"),
        Binding("s", "edit_schedule", "Schedule"),
        Binding("n", "add_scheduled", "Add"),
        Binding("n", "start_job", "Start"),  # on background jobs, instead of Add
        Binding("C", "copy", "Copy"),
        Binding("E", "edit_fields", "Fields"),
        Binding("c", "cancel", "Cancel"),
        Binding("R", "restart", "Restart"),
        Binding("d", "delete", "Delete"),
        Binding("L", "lock", "Lock"),
        Binding("q", "quit", "Quit"),
    ]
    CSS = """
    #header { height: 1; background: $primary; color: $text; padding: 0 1; }
    #banner { height: 1; background: $error; color: $text; text-style: bold; padding: 0 1; }
    #title { height: 1; padding: 0 1; text-style: bold; }
    #filter { height: 3; }
    """

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        super().__init__()
        self.engine = engine
        self.read_only = read_only
        self.view_name = "scheduled"
        self.states = {name: state.ViewState() for name in VIEWS}
        self.states["events"].query = Query(period="all")
        self.rows: list[Row] = []  # the current view's rows as last read (one page)
        self.has_more = False  # the store has rows past this page
        self._reading = False  # a read is under way (at most one at a time)
        self._again = False  # another read was asked for meanwhile
        self._last_read_s = 0.0
        self._soon: Timer | None = None  # a coalesced refresh after notifications
        self._poked = threading.Event()  # a StoreChanged is posted and not yet handled
        self._land = ""  # where the cursor goes when the next page arrives: "top", "bottom"
        self._unwatch: Callable[[], None] | None = None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="banner")
        yield Static(id="title")
        yield Input(placeholder="filter: words every row shown must contain", id="filter")
        yield JobTable(id="rows")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.main_widget("#filter", Input).display = False
        self.main_widget("#banner", Static).display = False
        self.refresh_rows()
        self.set_interval(REFRESH_S, self.refresh_rows)
        try:
            self._unwatch = live.watch(self.engine.hub, self._poke)
        except JobEngineError as exc:  # no notifications: the timer alone refreshes
            logger.warning("console: store notifications unavailable: %s", exc)
        self.table.focus()

    def on_unmount(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    @property
    def table(self) -> JobTable:
        return self.main_widget("#rows", JobTable)

    def main_widget(self, selector: str, kind: type[W]) -> W:
        """A widget of the listing screen, also while a form or a question is on top (the
        app's own query_one looks at the screen on top, where a read's rows cannot land)."""
        return self.screen_stack[0].query_one(selector, kind)

    @property
    def view(self) -> View:
        return VIEWS[self.view_name]

    @property
    def view_state(self) -> state.ViewState:
        return self.states[self.view_name]

    # -- refresh --------------------------------------------------------------------------

    def refresh_rows(self) -> None:
        """Read the header and the current view's page again on a worker thread, so a slow
        store never holds the keys up; the table updates in place when the rows arrive. One
        read at a time: asked for meanwhile, another follows it."""
        if self._reading:
            self._again = True
            return
        self._reading, self._again = True, False
        self._last_read_s = time.monotonic()
        vs = self.view_state
        ask = Ask(self.view_name, vs.query, vs.filter, vs.offset)
        self.run_worker(partial(self._read, ask), thread=True, group="read", exit_on_error=False)

    @property
    def is_reading(self) -> bool:
        """A read is under way or asked for (tests wait for it to end)."""
        return self._reading or self._again

    def _read(self, ask: Ask) -> None:
        """On the worker thread: read, then hand the rows to the UI thread."""
        try:
            head = data.header(self.engine)
            rows = VIEWS[ask.view].load(self.engine, ask.query, ask.text, ask.offset, PAGE + 1)
            got = Got(ask, head, rows)
        except Exception as exc:  # whatever the store says, the console goes on
            if not isinstance(exc, JobEngineError):
                logger.exception("console: reading the store failed")
            got = Got(ask, None, [], str(exc) or type(exc).__name__)
        self.post_message(ReadDone(got))

    @on(ReadDone)
    def _read_done(self, message: ReadDone) -> None:
        self._reading = False
        try:
            self._show_read(message.got)
        except (NoMatches, IndexError):
            # the rows came back while the app was closing: its widgets are gone
            return

    def _show_read(self, got: Got) -> None:
        vs = self.view_state
        current = Ask(self.view_name, vs.query, vs.filter, vs.offset)
        if got.head is None:
            self.main_widget("#header", Static).update(escape(f"store unreadable: {got.error}"))
        elif got.ask == current:
            self._show_header(got.head)
            self.rows, self.has_more = got.rows[:PAGE], len(got.rows) > PAGE
            vs.selected = state.prune(vs.selected, self.rows)
            self.render_rows()
            if self._land:
                self.table.land(self._land)
                self._land = ""
        if self._again or got.ask != current:
            self.refresh_rows()

    def _poke(self) -> None:
        """On the hub's listener thread: the store changed; one message for a burst."""
        if not self._poked.is_set():
            self._poked.set()
            self.post_message(StoreChanged())

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self._poked.clear()
        if self._soon is None:
            wait = live.delay_s(time.monotonic(), self._last_read_s)
            # Textual's timer divides by its delay: a zero one raises inside the timer task
            self._soon = self.set_timer(max(wait, 0.001), self._refresh_soon)

    def _refresh_soon(self) -> None:
        self._soon = None
        self.refresh_rows()

    def render_rows(self) -> None:
        vs = self.view_state
        self.table.set_columns(self.view.columns)
        self.table.show(self.rows, vs.selected)
        title = f"{self.view.title}: {len(self.rows)}"
        if vs.offset or self.has_more:
            last = vs.offset + len(self.rows)
            title = f"{self.view.title}: rows {vs.offset + 1}-{last}"
            title += ", more below" if self.has_more else ""
        chosen = vs.query.describe(self.view_name)
        if chosen:
            title += f"  ({chosen})"
        if vs.filter:
            title += f"  filter: {vs.filter!r}"
        if vs.selected:
            title += f"  selected: {len(vs.selected)}"
        self.main_widget("#title", Static).update(escape(title))

    @on(JobTable.PastEdge)
    def _turn_page(self, message: JobTable.PastEdge) -> None:
        vs = self.view_state
        offset = state.turn(vs.offset, message.step, PAGE, self.has_more)
        if offset is not None:
            vs.offset = offset
            self._land = "top" if message.step > 0 else "bottom"
            self.refresh_rows()

    def _show_header(self, head: data.Header) -> None:
        mode = "  [read-only]" if self.read_only else ""
        text = f"{head.url}   active {head.active}   failed {head.failed}{mode}"
        self.main_widget("#header", Static).update(escape(text))
        banner = self.main_widget("#banner", Static)
        banner.display = head.lock is not None
        if head.lock is not None:
            banner.update(escape(f"SCHEDULED JOBS LOCKED {head.lock}: none will start (L)"))

    # -- navigation -----------------------------------------------------------------------

    def action_view(self, name: str) -> None:
        if name == self.view_name:
            return
        self.view_name = name
        self.main_widget("#filter", Input).value = self.view_state.filter
        self._land = "top"
        self.refresh_rows()
        self.refresh_bindings()  # the footer shows the keys of this view

    def action_filter(self) -> None:
        box = self.main_widget("#filter", Input)
        box.display = True
        box.focus()

    def action_filter_form(self) -> None:
        """Choose the background jobs', the event log's or the resource items' filters."""
        if self.view_name == "resources":
            item_screens.filter_form(self)
            return
        vs = self.view_state
        names = [(sj.metadata, sj.uuid) for sj in self.engine.scheduled.get(limit=data.PAGE)]

        def chosen(answer: tuple[Query, str] | None) -> None:
            if answer is not None:
                self._set_query(*answer)

        self.push_screen(FilterScreen(self.view_name, vs.query, names), chosen)

    def _set_query(self, query: Query, job_text: str) -> None:
        if self.view_name == "events" and job_text.strip():
            try:
                uuid, is_scheduled, label = data.find_job(self.engine, job_text)
            except JobEngineError as exc:
                self.notify(str(exc), severity="error")
                return
            query = replace(query, job=uuid, job_is_scheduled=is_scheduled, label=label)
        self.view_state.query = query
        self.view_state.selected.clear()
        self.view_state.offset = 0
        self.refresh_rows()

    def on_input_changed(self, event: Input.Changed) -> None:
        # a form's inputs bubble up here too
        if event.input.id == "filter" and event.value != self.view_state.filter:
            self.view_state.filter = event.value
            self.view_state.offset = 0
            self.refresh_rows()  # the store filters: every page, not the rows read

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def _close_filter(self) -> None:
        box = self.main_widget("#filter", Input)
        box.display = bool(box.value)
        self.table.focus()

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if key == "escape" and self.main_widget("#filter", Input).has_focus:
            self._close_filter()

    def action_select(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        vs = self.view_state
        vs.selected = state.toggle(vs.selected, key)
        self.render_rows()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_details()

    def open_details(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        if self.view_name == "engines":
            return
        if self.view_name == "resources":
            item_screens.details(self, key)
            return
        if self.view_name == "scheduled":
            page = detail.why_not_running(self.engine, key)
        elif self.view_name == "background":
            page = detail.job_detail(self.engine, key)
        else:
            row = next((r for r in self.rows if r.key == key), None)
            if row is None or row.job is None:
                self.notify("this event names no background job")
                return
            page = detail.job_detail(self.engine, row.job)
        self.push_screen(DetailScreen(page))

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With --read-only the actions are shown dimmed and do nothing; over a detail page
        or a question only quitting works (the keys belong to that screen)."""
        if len(self.screen_stack) > 1 and action != "quit":
            return False
        views = ONLY_ON.get(action)
        if views is not None and self.view_name not in views:
            return False  # hidden: the same key may do this view's action
        if action in NOT_ON_ITEMS and self.view_name == "resources":
            return False
        if self.read_only and action in ACTIONS:
            return None
        return True

    def targets(self) -> list[Row]:
        return state.targets(self.rows, self.view_state.selected, self.table.cursor_key)

    def _only(self, view: str, what: str) -> bool:
        """True in `view`; elsewhere say where `what` works."""
        if self.view_name == view:
            return True
        key = {"scheduled": "1", "background": "2"}[view]
        self.notify(f"{what}: press {key}", severity="warning")
        return False

    def action_run_now(self) -> None:
        if self._only("scheduled", "run now starts scheduled jobs"):
            self._each(self.targets(), lambda r: actions.run_now(self.engine, r.key))

    def action_toggle_use(self) -> None:
        if self._only("scheduled", "enable/disable works on scheduled jobs"):
            self._each(self.targets(), lambda r: actions.toggle_use(self.engine, r.key))

    def action_pause(self) -> None:
        """Resume the paused targets; when none is paused, ask until when and pause them."""
        if not self._only("scheduled", "pause/resume works on scheduled jobs"):
            return
        rows = self.targets()
        paused = [r for r in rows if "paused" in r.flags]
        if paused:
            self._each(paused, lambda r: actions.resume(self.engine, r.key))
            return
        if not rows:
            self.notify("no row here", severity="warning")
            return

        def answered(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                until, reason = answer
                self._each(rows, lambda r: actions.pause(self.engine, r.key, until, reason))

        self.push_screen(PauseScreen(f"Pause {len(rows)} scheduled job(s)"), answered)

    def action_edit_schedule(self) -> None:
        if not self._only("scheduled", "s edits a scheduled job's schedule"):
            return
        sj = job_screens.scheduled_at_cursor(self)
        if sj is None:
            return
        key = sj.uuid
        now, last = self.engine.clock.now(), sj.last_begin

        def saved(schedule: Schedule | None) -> None:
            if schedule is not None and schedule != sj.schedule:
                self._each(
                    [Row(key, ())], lambda r: actions.set_schedule(self.engine, key, schedule)
                )

        editor = ScheduleEditor(sj.metadata, sj.schedule, lambda s: runs.preview(s, now, last))
        self.push_screen(editor, saved)

    def action_restart(self) -> None:
        if self.view_name == "background":
            rows = [r for r in self.targets() if "failed" in r.flags]
            self._each(rows, lambda r: actions.restart(self.engine, r.key), "nothing FAILED here")
        elif self.view_name == "scheduled":
            self._each(self.targets(), lambda r: actions.restart_last(self.engine, r.key))
        else:
            self.notify("R restarts a FAILED background job: press 2", severity="warning")

    def action_select_all(self) -> None:
        """Select every row the filter shows; when they all are, select none."""
        vs = self.view_state
        vs.selected = state.select_all(vs.selected, self.rows)
        self.render_rows()

    def action_cancel(self) -> None:
        rows = [r for r in self.targets() if "active" in r.flags]
        if not rows:
            self.notify("nothing active to cancel", severity="warning")
            return
        do: Callable[[Row], str]
        if self.view_name == "scheduled":
            do = lambda r: actions.cancel_last_run(self.engine, r.key)  # noqa: E731
        else:
            do = lambda r: actions.cancel_job(self.engine, r.key)  # noqa: E731
        self._confirm(f"Cancel {len(rows)} running job(s)?", rows, do)

    def action_delete(self) -> None:
        do: Callable[[Row], str]
        if self.view_name == "scheduled":
            rows = [r for r in self.targets() if "predefined" not in r.flags]
            kept = [r.cells[1] for r in self.targets() if "predefined" in r.flags]
            if kept:
                why = (
                    f"{', '.join(kept)}: predefined, not deleted (the registry owns it; e disables)"
                )
                self.notify(escape(why), severity="warning")
                if not rows:
                    return
            what = "scheduled job(s)"
            do = lambda r: actions.delete_scheduled(self.engine, r.key)  # noqa: E731
        elif self.view_name == "background":
            rows = [r for r in self.targets() if "active" not in r.flags]
            what = "finished background job(s)"
            do = lambda r: actions.delete_job(self.engine, r.key)  # noqa: E731
        elif self.view_name == "resources":
            item_screens.delete(self)
            return
        else:
            self.notify(
                "d deletes scheduled jobs (1), finished runs (2), resources (4)", severity="warning"
            )
            return
        if not rows:
            self.notify("nothing here can be deleted", severity="warning")
            return
        self._confirm(f"Delete {len(rows)} {what}?", rows, do)

    def action_edit_item(self) -> None:
        item_screens.edit(self)

    def action_add_scheduled(self) -> None:
        job_screens.add(self)

    def action_start_job(self) -> None:
        job_screens.start(self)

    def action_copy(self) -> None:
        if self.view_name == "scheduled":
            job_screens.copy_scheduled(self)
        else:
            job_screens.copy_job(self)

    def action_edit_fields(self) -> None:
        job_screens.edit(self)

    def action_run_here(self) -> None:
        job_screens.run_in_console(self)

    def action_unlock_item(self) -> None:
        item_screens.unlock(self)

    def action_lock(self) -> None:
        try:
            if self.engine.scheduled.locked:
                self.engine.scheduled.unlock()
                self.notify("scheduled jobs unlocked")
            else:
                self.engine.scheduled.lock()
                self.notify("scheduled jobs locked: none will start")
        except JobEngineError as exc:
            self.notify(str(exc), severity="error")
        self.refresh_rows()

    # -- helpers --------------------------------------------------------------------------

    def _confirm(self, question: str, rows: Sequence[Row], do: Callable[[Row], str]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._each(rows, do)

        self.push_screen(ConfirmScreen(question), answered)

    def _each(
        self, rows: Sequence[Row], do: Callable[[Row], str], empty: str = "no row here"
    ) -> None:
        """Apply `do` to each row and say what it did (the text it returns); a refusal is
        shown and the others go on."""
        if not rows:
            self.notify(empty, severity="warning")
            return
        said: list[str] = []
        for row in rows:
            try:
                result = do(row)
            except JobEngineError as exc:
                self.notify(str(exc), severity="error")
                continue
            said.append(result)
        if said:
            shown = said[:5] + ([f"... and {len(said) - 5} more"] if len(said) > 5 else [])
            self.notify(escape("\n".join(shown)))
        self.view_state.selected.clear()
        self.refresh_rows()
