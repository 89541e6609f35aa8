"""Tagged JSON: how arguments, results, progress and messages are stored (never pickles).

Plain JSON values pass through. datetime, date, time, Decimal, UUID and bytes become one-key
objects tagged with ``"$dt"``, ``"$date"``, ``"$time"``, ``"$dec"``, ``"$uuid"``, ``"$b64"`` and
come back as the same type. A dict whose only key starts with ``$`` is escaped with ``"$obj"``
so user data never collides with a tag. Tuples come back as lists.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from jobengine.errors import SerializationError

# Lists and dicts nest at most this deep: deeper (or circular) values are refused by name
# instead of exhausting the interpreter's recursion limit.
MAX_DEPTH = 100


def _encode(value: Any, path: str, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SerializationError(f"{path}: {value!r} is not a finite number")
        return value
    if isinstance(value, list | tuple | dict) and depth >= MAX_DEPTH:
        raise SerializationError(
            f"{_short(path)}: lists and dicts nest deeper than {MAX_DEPTH} levels (or contain "
            "themselves)"
        )
    if isinstance(value, list | tuple):
        return [_encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _encode_dict(value, path, depth + 1)
    return _encode_scalar(value, path)


def _short(path: str, limit: int = 120) -> str:
    return path if len(path) <= limit else f"{path[: limit // 2]}...{path[-limit // 2 :]}"


def _encode_dict(value: dict[Any, Any], path: str, depth: int) -> Any:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise SerializationError(f"{path}: dict key {k!r} is not a string")
        out[k] = _encode(v, f"{path}[{k!r}]", depth)
    if len(out) == 1 and next(iter(out)).startswith("$"):
        return {"$obj": out}
    return out


def _encode_scalar(value: Any, path: str) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    raise SerializationError(
        f"{path}: a value of type {type(value).__name__} cannot be stored as JSON "
        "(allowed: None, bool, int, float, str, list, dict with str keys, datetime, date, "
        "time, Decimal, UUID, bytes)"
    )


_DECODERS: dict[str, Any] = {
    "$dt": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$dec": Decimal,
    "$uuid": UUID,
    "$b64": lambda s: base64.b64decode(s.encode("ascii")),
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$obj":
            return {k: _decode(v) for k, v in inner.items()}
        decoder = _DECODERS.get(tag)
        if decoder is not None:
            return decoder(inner)
    return {k: _decode(v) for k, v in value.items()}


def dumps(value: Any, *, what: str = "value") -> str:
    """Encode `value` as tagged JSON text.

    Raises:
        SerializationError: naming the part of `value` that cannot be stored.
    """
    try:
        if type(value) is list and _INT.issuperset(map(type, value)):
            # ids, counts: a list's repr is the JSON text of its ints, spaces aside (ASCII, and
            # a fifth of the C encoder's cost for a short list, most of which is its setup)
            return repr(value).replace(" ", "")
        if type(value) is list and _PLAIN.issuperset(map(type, value)):
            # the common case: no tags, no walk in Python
            text = "".join(_c_plain(value, 0)) if _c_plain else _plain_encoder.encode(value)
        else:
            text = _plain_encoder.encode(_encode(value, what))
    except ValueError as exc:  # an int of more digits than Python converts to text
        raise SerializationError(f"{what}: {exc}") from exc
    if text.isascii():  # a flag of the string: no scan, and no surrogate to look for
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a file name that is not UTF-8) cannot be stored raw; as a \u escape
        # it is valid JSON text and loads back as the same string.
        return _ascii_encoder.encode(json.loads(text))
    return text


# Exact types (not subclasses: an IntEnum or a str subclass takes the tagged path's checks).
_PLAIN = frozenset({type(None), bool, int, str})
_INT = frozenset({int})
_plain_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_ascii_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def _c_encoder_of(encoder: json.JSONEncoder) -> Callable[[Any, int], list[str]] | None:
    """`encoder`'s C encoder, built once (`encode` builds a new one per call, most of the cost
    of encoding a short list); None without the C speedups. Without circular checks, for flat
    lists of scalars only (they cannot hold themselves), it keeps no state between calls, so
    one serves every thread. It returns the text in pieces."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(  # type: ignore[no-any-return]
        None,  # markers: no circular check
        encoder.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )


_c_plain = _c_encoder_of(_plain_encoder)


def loads(text: str | None) -> Any:
    """Decode tagged JSON text; None stays None."""
    if text is None:
        return None
    return _decode(json.loads(text))
