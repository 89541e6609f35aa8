"""The job forms and the keys that open them. On scheduled jobs (`1`): `n` adds a job of a
registry entry that is not predefined, `C` copies the job at the cursor, `E` edits its own
fields, `x` runs its method in the console's process. On background jobs (`2`): `n` starts a
job, `C` copies the one at the cursor. Each form saves through the engine's managers and
shows a refusal in the form, which stays open."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.app import ComposeResult
from textual.widgets import Input, Select, Static

from jobengine.console import actions, run_here
from jobengine.console.formscreen import FormScreen
from jobengine.console.jobfields import (
    NO,
    YES,
    ScheduledFields,
    StartFields,
    read_scheduled,
    read_start,
    scheduled_texts,
    start_texts,
)
from jobengine.errors import JobEngineError

if TYPE_CHECKING:
    from jobengine.console.app import ConsoleApp
    from jobengine.engine import Engine
    from jobengine.scheduled import ScheduledJob

PARAMS_HINT = 'a JSON list, e.g. [1, "text"]'


class ScheduledJobForm(FormScreen[ScheduledFields]):
    """A scheduled job's own fields. A new job's form also chooses its registry entry, and
    choosing one fills the fields with that entry's values."""

    def __init__(
        self,
        heading: str,
        texts: dict[str, str],
        save: Callable[[ScheduledFields], str],
        entries: dict[str, dict[str, str]] | None = None,
    ) -> None:
        super().__init__(heading)
        self.texts = texts
        self.save = save
        self.entries = entries  # a new job: each entry it may be of, with its values
        self.said = ""

    def fields(self) -> ComposeResult:
        t = self.texts
        if self.entries is not None:
            names = [(n, n) for n in self.entries]
            metadata = Select(
                names, value=t["metadata"], allow_blank=False, id="metadata", compact=True
            )
            yield from self.row("registry entry", metadata)
        else:
            yield from self.row("registry entry", Static(escape(t["metadata"])))
        yield from self.row("description", _input(t, "description"))
        yield from self.row("key", _input(t, "key", "none"))
        yes_no = [(YES, YES), (NO, NO)]
        use = Select(yes_no, value=t["use"], allow_blank=False, id="use", compact=True)
        yield from self.row("use", use)
        yield from self.row("user name", _input(t, "user_name", "the default user"))
        yield from self.row(
            "restart count", _input(t, "restart_count", "after a failure; 0: never")
        )
        yield from self.row("restart interval", _input(t, "restart_interval", "seconds"))
        yield from self.row("params", _input(t, "params", PARAMS_HINT))

    def changed(self, field: str) -> None:
        if field == "metadata" and self.entries is not None:
            chosen = self.entries.get(self.text("metadata"))
            for name, text in (chosen or {}).items():
                found = self.query(f"#{name}")
                if name != "metadata" and found:
                    widget = found.first()
                    if isinstance(widget, Input | Select):
                        widget.value = text

    def read(self) -> ScheduledFields:
        texts = {name: self.text(name) for name in self.texts}
        return read_scheduled(texts)

    def commit(self, answer: ScheduledFields) -> None:
        self.said = self.save(answer)


class StartJobForm(FormScreen[StartFields]):
    """A background job to start: method, key, description, args, queue."""

    def __init__(
        self, heading: str, texts: dict[str, str], save: Callable[[StartFields], str]
    ) -> None:
        super().__init__(heading)
        self.texts = texts
        self.save = save
        self.said = ""

    def fields(self) -> ComposeResult:
        t = self.texts
        yield from self.row("method", _input(t, "method", "package.module:function"))
        yield from self.row("key", _input(t, "key", "none"))
        yield from self.row("description", _input(t, "description"))
        yield from self.row("args", _input(t, "args", PARAMS_HINT))
        yield from self.row("queue", _input(t, "queue", "default"))

    def read(self) -> StartFields:
        return read_start({name: self.text(name) for name in self.texts})

    def commit(self, answer: StartFields) -> None:
        self.said = self.save(answer)


def _input(texts: dict[str, str], name: str, hint: str = "") -> Input:
    return Input(texts[name], placeholder=hint, id=name, compact=True)


# -- the keys -------------------------------------------------------------------------------


def add(app: ConsoleApp) -> None:
    """`n` on scheduled jobs: a new job of a registry entry that is not predefined."""
    try:
        entries = _entries(app.engine)
    except JobEngineError as exc:
        app.notify(str(exc), severity="warning")
        return
    texts = next(iter(entries.values()))
    form = ScheduledJobForm(
        "Add a scheduled job", texts, lambda f: actions.add_scheduled(app.engine, f), entries
    )
    _open(app, form)


def _entries(engine: Engine) -> dict[str, dict[str, str]]:
    """The registry entries a new scheduled job may be of, each with its values."""
    registry = engine.registry
    if registry is None:
        raise JobEngineError(
            "a new scheduled job is of a registry entry: start the console with --registry DIR"
        )
    names = sorted(name for name, meta in registry.jobs.items() if not meta.predefined)
    if not names:
        raise JobEngineError(
            "every registry entry is predefined: the registry makes their jobs, one each"
        )
    return {name: scheduled_texts(engine.scheduled.create(name)) for name in names}


def scheduled_at_cursor(app: ConsoleApp) -> ScheduledJob | None:
    """The scheduled job at the cursor, or None once the console said why there is none."""
    key = app.table.cursor_key
    if key is None:
        app.notify("no row here", severity="warning")
        return None
    try:
        return actions.scheduled(app.engine, key)
    except JobEngineError as exc:
        app.notify(str(exc), severity="error")
        return None


def copy_scheduled(app: ConsoleApp) -> None:
    """`C` on scheduled jobs: a new job with the fields and schedule of the one at the cursor."""
    sj = scheduled_at_cursor(app)
    if sj is None:
        return
    try:
        if sj.predefined:
            raise JobEngineError(
                f"{sj.metadata} is predefined: the registry makes its one job, so it has no copies"
            )
        app.engine.scheduled.create(sj.metadata)  # refused now if the registry lacks it
    except JobEngineError as exc:
        app.notify(str(exc), severity="warning")
        return
    schedule = sj.schedule

    def save(fields: ScheduledFields) -> str:
        return actions.add_scheduled(app.engine, replace(fields, metadata=sj.metadata), schedule)

    _open(app, ScheduledJobForm(f"Copy of {sj.metadata}", scheduled_texts(sj), save))


def edit(app: ConsoleApp) -> None:
    """`E` on scheduled jobs: the fields of the one at the cursor (its schedule is `s`)."""
    sj = scheduled_at_cursor(app)
    if sj is None:
        return

    def save(fields: ScheduledFields) -> str:
        return actions.edit_scheduled(app.engine, sj.uuid, fields)

    _open(app, ScheduledJobForm(f"Fields of {sj.metadata}", scheduled_texts(sj), save))


def start(app: ConsoleApp) -> None:
    """`n` on background jobs: start a job."""
    texts = {"method": "", "key": "", "description": "", "args": "[]", "queue": "default"}
    form = StartJobForm("Start a background job", texts, lambda f: actions.start_job(app.engine, f))
    _open(app, form)


def copy_job(app: ConsoleApp) -> None:
    """`C` on background jobs: start a job like the one at the cursor."""
    key = app.table.cursor_key
    job = app.engine.background.find(key) if key is not None else None
    if job is None:
        app.notify("no job here", severity="warning")
        return
    if job.kwargs:
        app.notify("its keyword arguments are not copied", severity="warning")
    texts = start_texts(job)
    form = StartJobForm(
        f"Copy of job {job.uuid[:8]}", texts, lambda f: actions.start_job(app.engine, f)
    )
    _open(app, form)


def _open(app: ConsoleApp, form: ScheduledJobForm | StartJobForm) -> None:
    def saved(answer: object) -> None:
        if answer is not None:
            app.notify(escape(form.said))
            app.refresh_rows()

    app.push_screen(form, saved)


def run_in_console(app: ConsoleApp) -> None:
    """`x` on scheduled jobs: run the method of the job at the cursor in this process, on a
    thread of its own; its outcome shows when it ends."""
    key = app.table.cursor_key
    if key is None:
        app.notify("no row here", severity="warning")
        return
    name = next((r.cells[1] for r in app.rows if r.key == key), key)
    app.notify(escape(f"{name}: running in the console..."))
    # A plain daemon thread, not a Textual worker: those run on the loop's executor, which
    # quitting waits for, and a method may run for hours.
    threading.Thread(target=_run, args=(app, key), name="console-run", daemon=True).start()


def _run(app: ConsoleApp, key: str) -> None:
    outcome = run_here.run(app.engine, key)
    severity = "information" if outcome.ok else "error"
    with contextlib.suppress(RuntimeError):  # the console was closed meanwhile: nobody to tell
        app.call_from_thread(app.notify, escape(outcome.text), severity=severity, timeout=15)
