"""What every `jobengine` command shares: the group, its options, output and error handling.

Errors are one line on stderr and a named exit code, never a traceback for a user mistake.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click
from click.core import ParameterSource

from jobengine.errors import JobEngineError
from jobengine.retry import MAX_DELAY_S
from jobengine.store import DEFAULT_URL

if TYPE_CHECKING:
    from rich.console import Console

RET_OK = 0
RET_ERROR = 1  # a user mistake or a refusal: one line on stderr
RET_JOB_FAILED = 2  # the job ended FAILED
RET_JOB_CANCELED = 3  # the job ended CANCELED
RET_TIMEOUT = 4  # waiting ran out of time
RET_MAX_JOBS = 5  # `run --max-jobs N` stopped at N jobs with due jobs of its queues left


class _LazyConsole:
    """A rich Console made on first use: `run` and a failing command print plain lines and
    never load rich (some 40 ms of their start-up)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


# Piped output keeps whole uuids and texts on one line instead of rich's 80 columns.
_WIDTH = None if sys.stdout.isatty() else 250
out = cast("Console", _LazyConsole(highlight=False, soft_wrap=True, width=_WIDTH))
err = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))
DEFAULT_REGISTRY = "schedules/"


def fail(message: str, code: int = RET_ERROR) -> NoReturn:
    """Print `message` as one line on stderr and exit with `code`."""
    say(f"jobengine: {' '.join(message.split())}")
    sys.exit(code)


def say(line: str) -> None:
    """One plain line on stderr (no rich: see _LazyConsole)."""
    click.echo(line, err=True)


# Each command's module (in jobengine.cli), imported when the command is looked up: a command
# loads only its own module and what that needs (`run` needs neither the listings nor the
# schedule texts, and its first job waits for its imports).
_BY_MODULE = {
    "background": "submit jobs show wait cancel delete restart",
    "engine": "run migrate",
    "scheduled": "scheduled enable disable pause resume run-now backfill lock unlock drain log",
    "schedule": "schedule",
    "status": "status",
    "console": "console",
}
COMMAND_MODULES = {name: module for module, names in _BY_MODULE.items() for name in names.split()}


class EngineGroup(click.Group):
    """The command group; refusals and usage errors end the command with one line and a code.

    Done in `main` (not only in the entry point) so click's CliRunner sees what users see.
    Commands are defined in their modules (`COMMAND_MODULES`), imported on first lookup.
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"jobengine.cli.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in set(COMMAND_MODULES.values()):
            importlib.import_module(f"jobengine.cli.{module}")
        return super().list_commands(ctx)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        run: Callable[..., Any] = super().main  # overloaded on standalone_mode's literal
        if not kwargs.pop("standalone_mode", True):
            return run(*args, standalone_mode=False, **kwargs)
        try:
            code = run(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            fail("aborted")
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code or RET_ERROR)
        except JobEngineError as exc:
            fail(str(exc))
        sys.exit(code if isinstance(code, int) else RET_OK)


class Seconds(click.ParamType[float]):
    """A number of seconds >= 0; nan is refused, and inf too unless `endless` (no limit)."""

    name = "seconds"

    def __init__(self, *, endless: bool = False) -> None:
        self.endless = endless

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if math.isinf(seconds) and seconds > 0 and self.endless:
            return seconds
        if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DELAY_S:
            self.fail(f"{value!r}: give a finite number of seconds >= 0", param, ctx)
        return seconds


DB_OPTION = click.option(
    "--db",
    "db",
    envvar="JOBENGINE_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="Store URL: sqlite:///FILE or postgresql://USER@HOST:PORT/DB ($JOBENGINE_DB).",
)
REGISTRY_OPTION = click.option(
    "--registry",
    envvar="JOBENGINE_REGISTRY",
    default=DEFAULT_REGISTRY,
    show_default=True,
    help="Folder of registry YAML files ($JOBENGINE_REGISTRY); the default may be absent.",
)


def registry_folder(registry: str) -> str | None:
    """The registry to load: None when the default folder is absent.

    A folder given with --registry or $JOBENGINE_REGISTRY must exist; the Engine refuses a
    missing one with a RegistryError.
    """
    source = click.get_current_context().get_parameter_source("registry")
    if source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP) and not os.path.exists(
        registry
    ):
        return None
    return registry


def open_engine(db: str, **kwargs: Any) -> Any:
    """An Engine on `db` (imported here: `--help` does not load the engine)."""
    from jobengine.engine import Engine

    return Engine(db, **kwargs)


@contextmanager
def client(db: str, **kwargs: Any) -> Iterator[Any]:
    """A client engine (not started) for one command, closed when it is done."""
    opened = open_engine(db, **kwargs)
    try:
        yield opened
    finally:
        opened.close()


def parse_arg(text: str) -> Any:
    """A command-line ARG: JSON when it parses, else the string itself.

    Raises:
        click.BadParameter: JSON nested too deep to read.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        raise click.BadParameter(
            f"{text[:40]}...: JSON nested too deep", param_hint="ARG"
        ) from None


def fmt(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else ""


def state_text(job: Any) -> str:
    """A background job's state as listings show it: "ACTIVE (retry 2 at 12:00:05)" while it
    waits for its next attempt (the time in full when that is not today)."""
    at = job.retry_at
    if at is None:
        return str(job.state.value)
    local = at.astimezone()
    when = fmt(at) if local.date() != datetime.now().astimezone().date() else f"{local:%H:%M:%S}"
    return f"{job.state.value} (retry {job.attempt} at {when})"


@click.group(cls=EngineGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """jobengine: 1C-style scheduled and background jobs."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
