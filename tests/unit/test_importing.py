"""`importing.hidden`: a package out of sight for the imports of a block, and only there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jobengine.importing import hidden


def test_a_hidden_package_and_its_modules_do_not_import_until_the_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "je_hidden_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 1\n")
    (package / "part.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with hidden("je_hidden_pkg"), pytest.raises(ModuleNotFoundError, match="je_hidden_pkg"):
        import je_hidden_pkg.part
    assert "je_hidden_pkg" not in sys.modules
    import je_hidden_pkg.part

    assert je_hidden_pkg.part.VALUE == 2
    with hidden("je_hidden_pkg"):  # already imported: left as it is
        import je_hidden_pkg as again
    assert again.VALUE == 1
    for name in ("je_hidden_pkg.part", "je_hidden_pkg"):
        monkeypatch.delitem(sys.modules, name)
