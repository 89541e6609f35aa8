"""The README and docs/ link only to files inside the repository, and every such file exists:
users have the repository, not the team's shared folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_a_page_is_a_file_in_the_repository(page: Path) -> None:
    wrong = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # a web address, not a file
            continue
        path = (page.parent / target).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            wrong.append(target)
    assert wrong == []
