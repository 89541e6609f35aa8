"""New identities: random UUIDs as text, the form the store keeps them in."""

from __future__ import annotations

import binascii
import os

# A hex digit's variant form: its top two bits set to 10 (8, 9, a or b), the rest kept.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
_VARIANT_BYTES = bytes.maketrans(b"0123456789abcdef", b"89ab" * 4)
# Where each of a UUID's 32 hex digits goes in its 36-character text (dashes at 8, 13, 18, 23).
_PLACES = [p for p in range(36) if p not in (8, 13, 18, 23)]


def new_uuid() -> str:
    """A random (version 4) UUID, as `str(uuid.uuid4())` gives it, at about half its cost:
    no UUID object is built on the way."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def new_uuids(n: int) -> list[str]:
    """`n` random UUIDs like `new_uuid`'s, from one read of the system's random source and no
    Python loop: each hex digit's column is copied into place with one strided slice (a
    quarter of `new_uuid`'s cost per UUID, for the stock a batch takes its jobs' from)."""
    digits = binascii.hexlify(os.urandom(16 * n))
    text = bytearray(b"-" * (37 * n))  # 36 characters and a newline each
    for digit, place in enumerate(_PLACES):
        text[place::37] = digits[digit::32]
    text[14::37] = b"4" * n  # the version
    text[19::37] = digits[16::32].translate(_VARIANT_BYTES)
    text[36::37] = b"\n" * n
    return text.decode("ascii").split()
