"""The console's forms: the schedule editor (every Schedule field, checked as you type, with
the schedule in words and its next runs updating live), the pause prompt and the filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from jobengine.console import form
from jobengine.console.formscreen import FormScreen
from jobengine.console.query import EVENTS, LEVELS, PERIOD_NAMES, STATES, Query
from jobengine.errors import JobEngineError
from jobengine.schedule import Schedule

Preview = Callable[[Schedule], list[str]]


class ScheduleEditor(FormScreen[Schedule]):
    """Edit a schedule: ctrl+s (or enter) saves a valid one, escape leaves it as it was."""

    DEFAULT_CSS = """
    ScheduleEditor > Vertical { width: 95%; height: 95%; padding: 0 1; }
    ScheduleEditor #fields { width: 60%; }
    ScheduleEditor #live { width: 40%; padding-left: 2; }
    ScheduleEditor .field { height: 1; margin-bottom: 1; }
    ScheduleEditor .field Label { width: 26; margin-top: 0; }
    ScheduleEditor .field Input { border: none; height: 1; padding: 0 1; width: 1fr; }
    ScheduleEditor .heading { text-style: bold; margin-top: 1; }
    """
    LIVE = True
    ID_PREFIX = "f-"
    ERROR_BELOW = False  # beside the fields, with the schedule in words
    NOUN = "the schedule"

    def __init__(self, name: str, schedule: Schedule, preview: Preview) -> None:
        super().__init__(f"Schedule of {name}")
        self.original = schedule
        self.preview = preview

    def fields(self) -> ComposeResult:
        values = form.texts(self.original)
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

    def read(self) -> Schedule:
        return form.read({name: self.text(name) for name, _ in form.FIELDS})

    def checked(self, answer: Schedule) -> None:
        self.query_one("#words", Static).update(escape(str(answer)))
        runs = self.preview(answer)
        self.query_one("#runs", Static).update(escape("\n".join(runs) or "(none)"))

    def refused(self, exc: JobEngineError) -> None:
        self.query_one("#runs", Static).update("(fix the schedule first)")


class PauseScreen(FormScreen[tuple[str, str]]):
    """Ask how long to pause and why: enter in "until" moves on, enter in "reason" pauses
    (the app reads "until"), escape does not."""

    DEFAULT_CSS = """
    PauseScreen > Vertical { border: thick $warning; }
    """
    HINT = "enter pause   escape cancel"

    def __init__(self, question: str) -> None:
        super().__init__(question)
        self.question = question

    def fields(self) -> ComposeResult:
        yield Input(
            placeholder="until: empty = until resumed; 30m, 2h, 1d; 2026-03-02 18:00", id="until"
        )
        yield Input(placeholder="reason (optional)", id="reason")

    def read(self) -> tuple[str, str]:
        return self.text("until"), self.text("reason")

    def submitted(self, field: str) -> None:
        if field == "until":
            self.query_one("#reason", Input).focus()
            return
        self.action_save()


class FilterScreen(FormScreen[tuple[Query, str]]):
    """The filters of the background jobs or the event log: enter (or ctrl+s) applies them,
    escape leaves them. Answers the query and the job text (the app resolves it)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Apply"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    HINT = "ctrl+s (or enter in a text field) apply   escape cancel"

    def __init__(self, view: str, query: Query, scheduled: list[tuple[str, str]]) -> None:
        super().__init__("Filters")
        self.view = view
        self.query_was = query
        self.scheduled = scheduled

    def fields(self) -> ComposeResult:
        q = self.query_was
        periods = [(text, key) for key, text in PERIOD_NAMES.items()]
        if self.view == "background":
            yield from choice("state", [("any", ""), *((s, s) for s in STATES)], q.state)
            yield from choice("period (begun in)", periods, q.period, "period")
            jobs = [("any", ""), *self.scheduled]
            yield from choice("scheduled job", jobs, q.scheduled_job, "scheduled_job")
            yield Label("queue")
            yield Input(q.queue, placeholder="any queue", id="queue")
        else:
            levels = [("any", ""), *_same(LEVELS)]
            yield from choice("level (and worse)", levels, q.level, "level")
            yield from choice("event", [("any", ""), *_same(EVENTS)], q.event)
            yield Label("job")
            label = q.label if q.job_is_scheduled else q.job
            yield Input(label, placeholder="a scheduled job's name, or a job's uuid", id="job")
            yield from choice("period", periods, q.period)

    def read(self) -> tuple[Query, str]:
        v = self.text
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
            return q, ""
        q = replace(
            q,
            level=v("level"),
            event=v("event"),
            period=v("period"),
            job="",
            job_is_scheduled=False,
            label="",
        )
        return q, v("job")


def _same(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def choice(
    label: str, options: list[tuple[str, str]], value: str, name: str | None = None
) -> ComposeResult:
    """A labelled select of `options` ((text, value) pairs), `value` chosen."""
    yield Label(label)
    yield Select(options, value=value, allow_blank=False, id=name or label)
