"""The base of the console's modal forms: a titled box of fields, read into an answer with the
field in error marked and the reason shown under them, ctrl+s (or enter in a text field) to
save and escape to leave. A form may act when saving (write through a manager): a refusal
then shows in the form, which stays open, instead of ending the console."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from jobengine.errors import JobEngineError

T = TypeVar("T")
INVALID = "-invalid-field"


class FormScreen(ModalScreen[T | None]):
    """A form answering a T (None when left with escape). Subclasses yield their fields in
    `fields()`, read them in `read()` and may act on the answer in `commit()`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical { width: 80; height: auto; max-height: 100%; border: round $accent;
                            background: $surface; padding: 1 2; }
    FormScreen Label { margin-top: 1; }
    FormScreen .-invalid-field { background: $error 40%; }
    FormScreen #error { color: $error; height: auto; }
    FormScreen .row { height: 1; margin-top: 1; }
    FormScreen .row Label { width: 20; margin-top: 0; }
    FormScreen .row Input, FormScreen .row Select { width: 1fr; }
    """
    HINT = "ctrl+s save   escape cancel"
    LIVE = False  # check the fields as they are typed, not only when saving
    ID_PREFIX = ""  # a field's widget id is the prefix and the field's name
    ERROR_BELOW = True  # the reason shows under the fields (else `fields()` yields #error)
    NOUN = "a field"  # what saving refuses to save, in the refusal's toast

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.heading = heading

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{escape(self.heading)}[/b]   {self.HINT}", id="form-title")
            yield from self.fields()
            if self.ERROR_BELOW:
                below = Static(id="error")
                below.display = False  # an empty line would only push the box's end down
                yield below

    def fields(self) -> ComposeResult:
        """The form's widgets, each field's named `ID_PREFIX` + its name."""
        yield from ()

    def row(self, label: str, widget: Widget) -> ComposeResult:
        """A field on one line: its label, then its input or select (a compact one)."""
        with Horizontal(classes="row"):
            yield Label(label)
            yield widget

    def read(self) -> T:
        """The answer the fields give.

        Raises:
            JobEngineError: a field that is not a value of its kind (one with a `field`
                attribute gets that field marked).
        """
        raise NotImplementedError

    def commit(self, answer: T) -> None:
        """What saving does before the form closes; a JobEngineError keeps it open."""

    def checked(self, answer: T) -> None:
        """The fields read well (a live form updates what it shows from them)."""

    def refused(self, exc: JobEngineError) -> None:
        """The fields did not read (after the reason is shown)."""

    def changed(self, field: str) -> None:
        """A field's text changed (before a live form checks them)."""

    def text(self, name: str) -> str:
        """A field's text: an input's value or a select's chosen value ("" for none)."""
        found = self.query(f"#{self.ID_PREFIX}{name}")
        if not found:
            return ""
        widget = found.first()
        value = widget.value if isinstance(widget, Input | Select) else ""
        return value if isinstance(value, str) else ""

    def check(self) -> T | None:
        """Read the fields again: the answer, or None with the reason shown."""
        for widget in self.query(f".{INVALID}"):
            widget.remove_class(INVALID)
        try:
            answer = self.read()
        except JobEngineError as exc:
            self.show_error(exc)
            self.refused(exc)
            return None
        self.say("")
        self.checked(answer)
        return answer

    def show_error(self, exc: JobEngineError) -> None:
        # the schedule's, the item editor's and the job forms' errors name their field
        field = getattr(exc, "field", "")
        if isinstance(field, str) and field:
            for widget in self.query(f"#{self.ID_PREFIX}{field}"):
                widget.add_class(INVALID)
        self.say(str(exc))

    def say(self, text: str) -> None:
        """Show why the form refuses (or nothing)."""
        box = self.query_one("#error", Static)
        box.update(escape(text))
        if self.ERROR_BELOW:
            box.display = bool(text)

    def action_save(self) -> None:
        answer = self.check()
        if answer is None:
            self.notify(f"{self.NOUN} has an error: fix it or press escape", severity="error")
            return
        try:
            self.commit(answer)
        except JobEngineError as exc:
            self.show_error(exc)
            return
        self.dismiss(answer)

    def submitted(self, field: str) -> None:
        """Enter in a text field: save (a form may move to its next field instead)."""
        self.action_save()

    # the fields' messages stop here: the listing's own filter box handles the app's
    # (Textual calls the handler of each class in the MRO: subclasses use the hooks above)
    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed(event.input.id)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed(event.select.id)

    def _changed(self, widget_id: str | None) -> None:
        self.changed((widget_id or "").removeprefix(self.ID_PREFIX))
        if self.LIVE:
            self.check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.input.id or ""
        self.submitted(name.removeprefix(self.ID_PREFIX))
