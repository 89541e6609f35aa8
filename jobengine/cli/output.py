"""How listings leave the command line: a rich table on a terminal, tab-separated lines when
piped, one JSON document with `--json` (stable keys, ISO 8601 dates)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click

from jobengine.cli.common import out

_F = TypeVar("_F", bound=Callable[..., Any])
Columns = Sequence[tuple[str, str]]  # (title, row key)


def json_option(command: _F) -> _F:
    """The `--json` flag of a listing, passed as `as_json`."""
    return click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")(
        command
    )


def iso(at: datetime | None) -> str | None:
    """An instant for JSON: ISO 8601 with its offset (milliseconds), None when not set."""
    return at.isoformat(timespec="milliseconds") if at is not None else None


def print_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout, plain (no colours, whatever the terminal)."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def show(rows: Sequence[dict[str, Any]], columns: Columns) -> None:
    """A rich table on a terminal; tab-separated lines with a header when piped."""
    if out.is_terminal:
        from rich.table import Table  # rich loads only for a table (see common._LazyConsole)
        from rich.text import Text

        table = Table()
        for title, key in columns:  # whole uuids: they are what other commands take
            wide = key in ("uuid", "job")
            table.add_column(title, no_wrap=wide, min_width=36 if wide else None)
        for row in rows:
            table.add_row(*(Text(str(row[key] or "")) for _, key in columns))  # no markup
        out.print(table)
        return
    lines = ["\t".join(title for title, _ in columns)]
    lines += ["\t".join(plain(row[key]) for _, key in columns) for row in rows]
    click.echo("\n".join(lines))  # not rich: it would expand the tabs


def plain(value: Any) -> str:
    """A field on one line: whitespace folded, `-` for nothing."""
    return " ".join(str(value).split()) if value not in (None, "") else "-"
