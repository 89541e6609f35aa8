"""The console's pure view state: filtering, selection, and what an action applies to."""

from __future__ import annotations

from jobengine.console.data import Row, fmt_span, safe_url, visible
from jobengine.console.state import prune, targets, toggle

ROWS = [
    Row("a", ("COMPLETED", "Nightly cleanup", "pkg:clean")),
    Row("b", ("FAILED", "Upload prices", "pkg:upload")),
    Row("c", ("ACTIVE", "Upload stock", "pkg:upload")),
]


def test_filter_keeps_rows_containing_every_word_in_any_case() -> None:
    assert [r.key for r in visible(ROWS, "upload")] == ["b", "c"]
    assert [r.key for r in visible(ROWS, "UPLOAD failed")] == ["b"]
    assert visible(ROWS, "  ") == ROWS


def test_toggle_adds_then_removes_a_key() -> None:
    assert toggle(set(), "a") == {"a"}
    assert toggle({"a"}, "a") == set()


def test_prune_drops_selections_of_rows_that_are_gone() -> None:
    assert prune({"a", "z"}, ROWS) == {"a"}


def test_targets_are_the_selected_rows_shown_else_the_cursor_row() -> None:
    assert [r.key for r in targets(ROWS, {"c", "a"}, "b")] == ["a", "c"]
    assert [r.key for r in targets(ROWS, set(), "b")] == ["b"]
    assert targets(ROWS, set(), None) == []
    shown = visible(ROWS, "upload")
    assert [r.key for r in targets(shown, {"a"}, "c")] == ["c"]  # "a" is filtered out


def test_durations_and_urls_read_well() -> None:
    assert fmt_span(1.25) == "1.2s"
    assert fmt_span(125) == "2m05s"
    assert fmt_span(3725) == "1h02m"
    assert safe_url("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert safe_url("sqlite:///x.db") == "sqlite:///x.db"


def test_turn_gives_the_next_page_only_when_more_follow_and_the_previous_down_to_zero() -> None:
    from jobengine.console.state import turn

    assert turn(0, 1, 500, True) == 500
    assert turn(500, 1, 500, False) is None
    assert turn(500, -1, 500, False) == 0
    assert turn(0, -1, 500, True) is None


def test_reads_after_notifications_stay_a_coalescing_gap_apart() -> None:
    from jobengine.console.live import delay_s

    assert delay_s(10.0, 9.0, 0.3) == 0.0
    assert abs(delay_s(10.0, 9.9, 0.3) - 0.2) < 1e-9
