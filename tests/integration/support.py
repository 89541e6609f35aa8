"""Helpers for the integration tests: waiting on conditions, engines and CLI subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 30.0
T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout_s: float = WAIT_S, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s} s: {what or condition}")
        time.sleep(0.02)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: the repo root on PYTHONPATH, no inherited DB."""
    env = dict(os.environ)
    env.pop("JOBENGINE_DB", None)
    paths = [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def registry_folder(tmp_path: Path, text: str) -> Path:
    """A registry folder under `tmp_path` holding one YAML file with `text`."""
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(text)
    return folder


def process_gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def location_pid(location: str) -> int:
    """The pid part of a job's "host:pid" location."""
    return int(location.rpartition(":")[2])


class Proc:
    """A subprocess in its own session with its output in files; killed by `Procs` at the end."""

    def __init__(self, args: Sequence[str], folder: Path, name: str, env: dict[str, str]) -> None:
        self.args = list(args)
        self.out_path = folder / f"{name}.out"
        self.err_path = folder / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen(
                self.args, cwd=REPO, env=env, stdout=out, stderr=err, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait(self, timeout_s: float = WAIT_S) -> int:
        return self.popen.wait(timeout_s)

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL the whole session (engine, fork server), then reap."""
        # Even after the leader is gone its group may live on (a fork server), and a group id is
        # never reused while the group exists.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)


class Procs:
    """Starts subprocesses for one test and kills the ones still running at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Proc] = []
        # An empty registry folder: the CLI loads no jobs and no allow-list (a --registry
        # folder that does not exist is an error).
        self.no_registry = folder / "no-registry"
        self.no_registry.mkdir(exist_ok=True)

    def start(self, args: Sequence[str], name: str, **env: str) -> Proc:
        proc = Proc(args, self.folder, f"{name}-{len(self.started)}", subprocess_env(**env))
        self.started.append(proc)
        return proc

    def jobengine(self, *args: str, name: str = "cli", **env: str) -> Proc:
        return self.start([sys.executable, "-m", "jobengine", *args], name, **env)

    def run_engine(
        self,
        db: str,
        *,
        workers: int = 1,
        grace: float = 1.0,
        extra: Sequence[str] = (),
        **env: str,
    ) -> Proc:
        """Start `jobengine run` (an empty registry: the project's modules run); wait for it."""
        options = ["--db", db, "--registry", str(self.no_registry), "--workers", str(workers)]
        options.extend(extra)
        proc = self.jobengine("run", *options, "--grace", str(grace), name="run", **env)
        wait_until(
            lambda: "running on" in proc.stderr or proc.popen.poll() is not None,
            what="jobengine run to start",
        )
        assert proc.popen.poll() is None, f"jobengine run exited: {proc.stderr}"
        return proc

    def cli(
        self, *args: str, timeout_s: float = WAIT_S, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one `jobengine` command to its end (no registry unless `env` names one)."""
        no_registry = {"JOBENGINE_REGISTRY": str(self.no_registry)}
        return subprocess.run(
            [sys.executable, "-m", "jobengine", *args],
            cwd=REPO,
            env=subprocess_env(**{**no_registry, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def close(self) -> None:
        for proc in reversed(self.started):
            proc.kill_group()
