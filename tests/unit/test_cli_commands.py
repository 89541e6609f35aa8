"""Commands load their modules on first lookup; the map of names to modules is complete."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import jobengine.cli
from jobengine.cli.common import COMMAND_MODULES, cli


def test_every_command_is_mapped_to_the_module_that_defines_it() -> None:
    for module in pkgutil.iter_modules(jobengine.cli.__path__):
        importlib.import_module(f"jobengine.cli.{module.name}")
    assert set(cli.commands) == set(COMMAND_MODULES)
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"jobengine.cli.{COMMAND_MODULES[name]}", name


def test_looking_up_run_loads_only_its_own_command_module() -> None:
    code = (
        "import sys, click\n"
        "from jobengine.cli import cli\n"
        "assert cli.get_command(click.Context(cli), 'run').name == 'run'\n"
        "print(sorted(m for m in sys.modules if m.startswith('jobengine.cli.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['jobengine.cli.common', 'jobengine.cli.engine']"
