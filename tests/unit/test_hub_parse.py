"""Notifications are parsed strictly: a malformed one is dropped, never routed."""

from __future__ import annotations

import pytest

from jobengine.hub import Hub, Waiter, parse


@pytest.mark.parametrize(
    ("message", "parsed"),
    [
        ("r invoices", ("r", ["invoices"])),
        ("r a.b:c-d_1", ("r", ["a.b:c-d_1"])),
        ("r", None),
        ("r two names", None),
        ("r bad/name", None),
        ("r " + "x" * 101, None),
    ],
)
def test_resource_notifications_name_one_valid_queue(
    message: str, parsed: tuple[str, list[str]] | None
) -> None:
    assert parse(message) == parsed


def test_a_resource_notification_wakes_the_waiters_of_its_queue_only() -> None:
    hub = Hub(lambda: None)  # type: ignore[arg-type,return-value]
    mine, other = Waiter(), Waiter()
    hub._interest = {"r invoices": {mine}, "r mail": {other}}  # as watch() leaves it
    hub.dispatch(["r  invoices", "r bad/name", "r"])
    assert mine.event.is_set() and not other.event.is_set()
