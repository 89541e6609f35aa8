"""Loops that go on after an error log a store outage in one line and a bug with its traceback."""

from __future__ import annotations

import logging

import pytest

from jobengine.errors import StoreError, StoreLostError, log_retry

log = logging.getLogger("tests.log_retry")


def _logged(caplog: pytest.LogCaptureFixture, exc: Exception) -> logging.LogRecord:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger=log.name):
        try:
            raise exc
        except Exception:
            log_retry(log, "turn failed")
    (record,) = caplog.records
    return record


@pytest.mark.parametrize(
    "exc", [StoreError("could not reach the server"), StoreLostError("/tmp/x.db", replaced=False)]
)
def test_a_store_error_is_one_line_with_its_message(
    caplog: pytest.LogCaptureFixture, exc: StoreError
) -> None:
    record = _logged(caplog, exc)
    assert record.getMessage() == f"turn failed: {exc}; retrying"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_any_other_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    record = _logged(caplog, KeyError("bug"))
    assert record.getMessage() == "turn failed; retrying"
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert "Traceback" in caplog.text
