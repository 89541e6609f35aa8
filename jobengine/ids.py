"""New identities: UUIDs as text, the form the store keeps them in."""

from __future__ import annotations

import binascii
import os

# A hex digit's variant form: its top two bits set to 10 (8, 9, a or b), the rest kept.
_VARIANT_BYTES = bytes.maketrans(b"0123456789abcdef", b"89ab" * 4)
# Where each of a UUID's 32 hex digits goes in its 36-character text (dashes at 8, 13, 18, 23).
_PLACES = [p for p in range(36) if p not in (8, 13, 18, 23)]
# A version-7 UUID's random digits, but for the variant's (19): after its time and version.
_V7_RANDOM = [p for p in _PLACES if p > 14 and p != 19]


def time_ordered_uuids(n: int, now_ms: int) -> list[str]:
    """`n` version-7 UUIDs (RFC 9562) of the instant `now_ms`: 48 bits of epoch milliseconds,
    then 74 random bits.

    A batch's jobs take theirs from such stocks. Their uuids sort by time, so SQLite adds
    them to one end of the uuid index instead of all over it: random uuids made that index
    more than half of SQLite's cost of a batched job (see docs/benchmarks.md).

    The instant's 13 characters start every one of them: the text starts as that line
    repeated, and only the 19 random digits' columns are copied in (not all 32).
    """
    stamp = b"%012x" % (now_ms & 0xFFFF_FFFF_FFFF)
    text = bytearray(stamp[:8] + b"-" + stamp[8:] + b"-7" + b"-" * 21 + b"\n") * n
    digits = binascii.hexlify(os.urandom(10 * n))  # 20 a uuid, 19 used
    for digit, place in enumerate(_V7_RANDOM):
        text[place::37] = digits[digit::20]
    text[19::37] = digits[19::20].translate(_VARIANT_BYTES)
    return text.decode("ascii").split()


def new_uuids(n: int) -> list[str]:
    """`n` random (version 4) UUIDs as `str(uuid.uuid4())` gives them, from one read of the
    system's random source and without a Python loop: each hex digit's column is copied into
    place with one strided slice. A batch takes its jobs' uuids from such a stock: 0.2 us a
    uuid in stocks of 256, against 3.4 us for str(uuid.uuid4()).

    Lone jobs keep uuid.uuid4 (a test patches it to make a store whose uuids are fixed)."""
    return _uuid_text(n, b"4").decode("ascii").split()


def _uuid_text(n: int, version: bytes) -> bytearray:
    """`n` random UUIDs of `version`, one a line."""
    digits = binascii.hexlify(os.urandom(16 * n))
    text = bytearray(b"-" * (37 * n))  # 36 characters and a newline each
    for digit, place in enumerate(_PLACES):
        text[place::37] = digits[digit::32]
    text[14::37] = version * n
    text[19::37] = digits[16::32].translate(_VARIANT_BYTES)
    text[36::37] = b"\n" * n
    return text
