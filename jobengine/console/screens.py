"""The console's pop-up screens: a detail page and the yes/no question of a destructive
action."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from jobengine.console.data import Detail


class DetailScreen(ModalScreen[None]):
    """A detail page (a job, or why a scheduled job is not running); escape or q closes."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent;
                                    background: $surface; padding: 0 1; }
    DetailScreen .heading { text-style: bold; margin-top: 1; }
    """

    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(f"[b]{escape(self.detail.title)}[/b]", id="detail-title")
            for heading, body in self.detail.sections:
                if heading:
                    yield Static(escape(heading), classes="heading")
                yield Static(escape(body), classes="body", markup=True)

    def text(self) -> str:
        """Everything the page says, as plain text (for tests and copy)."""
        parts = [self.detail.title]
        for heading, body in self.detail.sections:
            parts.extend([heading, body])
        return "\n".join(parts)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a destructive action: `y` confirms, anything else (n, escape) declines."""

    BINDINGS = [  # noqa: RUF012
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 70; height: auto; border: thick $error;
                               background: $surface; padding: 1 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(escape(self.question), id="question")
            yield Static("[b]y[/b] yes   [b]n[/b] no", id="answers")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
