"""The console's forms: the schedule editor (every Schedule field, checked as you type, with
the schedule in words and its next runs updating live), the pause prompt and the filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from jobengine.console import form
from jobengine.console.query import EVENTS, LEVELS, PERIOD_NAMES, STATES, Query
from jobengine.errors import ScheduleError
from jobengine.schedule import Schedule

Preview = Callable[[Schedule], list[str]]


class ScheduleEditor(ModalScreen[Schedule | None]):
    """Edit a schedule: ctrl+s (or enter) saves a valid one, escape leaves it as it was."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = """
    ScheduleEditor { align: center middle; }
    ScheduleEditor > Vertical { width: 95%; height: 95%; border: round $accent;
                                background: $surface; padding: 0 1; }
    ScheduleEditor #fields { width: 60%; }
    ScheduleEditor #live { width: 40%; padding-left: 2; }
    ScheduleEditor .field { height: 1; margin-bottom: 1; }
    ScheduleEditor .field Label { width: 26; }
    ScheduleEditor .field Input { border: none; height: 1; padding: 0 1; width: 1fr; }
    ScheduleEditor .field Input.-invalid-field { background: $error 40%; }
    ScheduleEditor #error { color: $error; height: auto; }
    ScheduleEditor .heading { text-style: bold; margin-top: 1; }
    """

    def __init__(self, name: str, schedule: Schedule, preview: Preview) -> None:
        super().__init__()
        self.job_name = name
        self.original = schedule
        self.preview = preview
        self.schedule: Schedule | None = schedule

    def compose(self) -> ComposeResult:
        values = form.texts(self.original)
        with Vertical():
            yield Static(
                f"[b]Schedule of {escape(self.job_name)}[/b]   ctrl+s save   escape cancel",
                id="editor-title",
            )
            with Horizontal():
                with VerticalScroll(id="fields"):
                    for name, hint in form.FIELDS:
                        with Horizontal(classes="field"):
                            yield Label(name)
                            yield Input(values[name], placeholder=hint, id=f"f-{name}")
                with VerticalScroll(id="live"):
                    yield Static("In words", classes="heading")
                    yield Static(id="words")
                    yield Static(id="error")
                    yield Static("Next runs", classes="heading")
                    yield Static(id="runs")

    def on_mount(self) -> None:
        self.check()

    def texts(self) -> dict[str, str]:
        return {name: self.query_one(f"#f-{name}", Input).value for name, _ in form.FIELDS}

    def check(self) -> None:
        """Read the form again: show the schedule in words and its next runs, or the error
        with its field marked."""
        for box in self.query(Input):
            box.remove_class("-invalid-field")
        try:
            self.schedule = form.read(self.texts())
        except ScheduleError as exc:
            self.schedule = None
            self._show_error(exc)
            return
        self.query_one("#words", Static).update(escape(str(self.schedule)))
        self.query_one("#error", Static).update("")
        runs = self.preview(self.schedule)
        self.query_one("#runs", Static).update(escape("\n".join(runs) or "(none)"))

    def _show_error(self, exc: ScheduleError) -> None:
        boxes = self.query(f"#f-{exc.field}")
        if boxes:
            boxes.first(Input).add_class("-invalid-field")
        self.query_one("#error", Static).update(escape(str(exc)))
        self.query_one("#runs", Static).update("(fix the schedule first)")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        if self.schedule is None:
            self.notify("the schedule has an error: fix it or press escape", severity="error")
            return
        self.dismiss(self.schedule)


class PauseScreen(ModalScreen[tuple[str, str] | None]):
    """Ask how long to pause and why: enter pauses, escape does not."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    PauseScreen { align: center middle; }
    PauseScreen > Vertical { width: 80; height: auto; border: thick $warning;
                             background: $surface; padding: 1 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(escape(self.question))
            yield Input(
                placeholder="until: empty = until resumed; 30m, 2h, 1d; 2026-03-02 18:00",
                id="until",
            )
            yield Input(placeholder="reason (optional)", id="reason")
            yield Static("[b]enter[/b] pause   [b]escape[/b] cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "until":
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(
            (self.query_one("#until", Input).value, self.query_one("#reason", Input).value)
        )


class FilterScreen(ModalScreen[tuple[Query, str] | None]):
    """The filters of the background jobs or the event log: enter (or ctrl+s) applies them,
    escape leaves them. Answers the query and the job text (the app resolves it)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Apply"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical { width: 80; height: auto; border: round $accent;
                              background: $surface; padding: 1 2; }
    FilterScreen Label { margin-top: 1; }
    """

    def __init__(self, view: str, query: Query, scheduled: list[tuple[str, str]]) -> None:
        super().__init__()
        self.view = view
        self.query_was = query
        self.scheduled = scheduled

    def compose(self) -> ComposeResult:
        q = self.query_was
        periods = [(text, key) for key, text in PERIOD_NAMES.items()]
        with Vertical():
            yield Static("[b]Filters[/b]   ctrl+s (or enter in a text field) apply   escape cancel")
            if self.view == "background":
                yield from _choice("state", [("any", ""), *((s, s) for s in STATES)], q.state)
                yield from _choice("period (begun in)", periods, q.period, "period")
                jobs = [("any", ""), *self.scheduled]
                yield from _choice("scheduled job", jobs, q.scheduled_job, "scheduled_job")
                yield Label("queue")
                yield Input(q.queue, placeholder="any queue", id="queue")
            else:
                yield from _choice(
                    "level (and worse)", [("any", ""), *_same(LEVELS)], q.level, "level"
                )
                yield from _choice("event", [("any", ""), *_same(EVENTS)], q.event)
                yield Label("job")
                label = q.label if q.job_is_scheduled else q.job
                yield Input(label, placeholder="a scheduled job's name, or a job's uuid", id="job")
                yield from _choice("period", periods, q.period)

    def _value(self, name: str) -> str:
        found = self.query(f"#{name}")
        if not found:
            return ""
        widget = found.first()
        value = widget.value if isinstance(widget, Input | Select) else ""
        return value if isinstance(value, str) else ""

    def action_apply(self) -> None:
        v = self._value
        q = self.query_was
        if self.view == "background":
            label = dict((u, n) for n, u in self.scheduled).get(v("scheduled_job"), "")
            q = replace(
                q,
                state=v("state"),
                period=v("period"),
                scheduled_job=v("scheduled_job"),
                label=label,
                queue=v("queue").strip(),
            )
            self.dismiss((q, ""))
            return
        q = replace(
            q,
            level=v("level"),
            event=v("event"),
            period=v("period"),
            job="",
            job_is_scheduled=False,
            label="",
        )
        self.dismiss((q, v("job")))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()


def _same(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def _choice(
    label: str, options: list[tuple[str, str]], value: str, name: str | None = None
) -> ComposeResult:
    yield Label(label)
    yield Select(options, value=value, allow_blank=False, id=name or label)
