"""Limits on what a job reports (result, messages, progress, errors), and making text storable.

Both backends store text as UTF-8: a lone surrogate (what `os.listdir` gives for a file name that
is not UTF-8) cannot be encoded, and PostgreSQL refuses NUL. Such text is stored with those
characters escaped (`\\udcff`, `\\x00`), so one odd string never blocks the writes of other jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Limits:
    """Largest sizes, in bytes of UTF-8, of what a job may report.

    A result over `result_bytes` fails the job; a longer message, progress text or error text is
    cut at its limit with a note saying so. Every one of a job's messages is kept.
    """

    result_bytes: int = 16 * MB
    message_bytes: int = 64 * KB
    progress_text_bytes: int = 4 * KB
    error_bytes: int = 1 * MB


DEFAULT_LIMITS = Limits()


def storable(text: str) -> str:
    """Return `text` with lone surrogates and NUL escaped; unchanged (and fast) when clean."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\x00")


def human_size(n: int) -> str:
    """`n` bytes in words: "52.0 MB", "64 KB", "12 bytes"."""
    if n >= MB:
        return f"{n / MB:.1f} MB" if n % MB else f"{n // MB} MB"
    if n >= KB:
        return f"{n / KB:.1f} KB" if n % KB else f"{n // KB} KB"
    return f"{n} bytes"


def clip(text: str, limit: int, what: str) -> str:
    """Make `text` storable and cut it to `limit` bytes, saying how large it was."""
    text = storable(text)
    if len(text) * 4 <= limit:  # no UTF-8 character is longer than 4 bytes
        return text
    size = len(text.encode("utf-8"))
    if size <= limit:
        return text
    note = f"\n[{what} cut: it was {human_size(size)}, over the {human_size(limit)} limit]"
    head = text.encode("utf-8")[: max(0, limit - len(note.encode()))].decode("utf-8", "ignore")
    return head + note


def result_error(result: str, limit: int) -> str | None:
    """Why a stored result (tagged-JSON text) is refused, or None when it fits."""
    if len(result) * 4 <= limit:
        return None
    size = len(result.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return None
    return f"result is {human_size(size)}, over the {human_size(limit)} limit"
