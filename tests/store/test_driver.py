"""psycopg is imported when PostgreSQL is used, not with peewee: each case in a new interpreter,
since the deferral happens once per process, at the first import of jobengine.store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_engine_on_a_current_sqlite_store_never_imports_psycopg(tmp_path: Path) -> None:
    code = """
        import sys
        from jobengine import Engine
        engine = Engine(f"sqlite:///{sys.argv[1]}/jobs.db")
        engine.background.get(limit=1)
        engine.close()
        print("psycopg" in sys.modules)
    """
    # Migrating a new store runs peewee's migration runner, which imports every driver.
    assert run(code, str(tmp_path)) == "True"
    assert run(code, str(tmp_path)) == "False"


def test_after_an_sqlite_store_postgresql_works_for_jobengine_and_for_peewee_itself(
    tmp_path: Path, pg_url: str
) -> None:
    code = """
        import sys
        from jobengine import Engine
        import peewee
        Engine(f"sqlite:///{sys.argv[1]}/jobs.db").close()
        assert peewee.psycopg is None  # deferred so far
        own = peewee.PostgresqlDatabase(sys.argv[2])  # the user's own peewee code
        print(own.execute_sql("SELECT 41 + 1").fetchone()[0], type(own._adapter).__name__)
        own.close()
        engine = Engine(sys.argv[2])
        print(len(engine.background.get(limit=1)))
        engine.close()
    """
    assert run(code, str(tmp_path), pg_url).split("\n") == ["42 Psycopg3Adapter", "0"]


def test_psycopg_imported_first_is_left_as_it_is(tmp_path: Path) -> None:
    code = """
        import sys
        import psycopg
        import jobengine.store
        import peewee
        print(peewee.psycopg is psycopg, peewee.PostgresqlDatabase.init.__name__)
    """
    assert run(code) == "True init"


def test_the_command_line_loads_neither_psycopg_nor_rich_until_it_needs_them() -> None:
    code = """
        import sys
        import jobengine.cli
        print(sorted(m for m in ("psycopg", "rich", "textual") if m in sys.modules))
    """
    assert run(code) == "[]"
