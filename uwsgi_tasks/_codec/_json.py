"""JSON text, both ways, as every task, record and value is written and read: compact and exact.

Writing reuses one C encoder (json.dumps makes one per call); reading calls the C scanner directly
(json.loads's Python layers cost as much as scanning a small task). What is read is exactly what
json.loads reads, but for NaN and Infinity, which are not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._exceptions import DecodeError
from ._values import JSON


def _make_encoder() -> Callable[[JSON], str]:
    """Compact JSON text of a tree; the C encoder is made once (json.dumps makes one per call).

    No circular-reference check: trees come from `_values`, which fails on a cycle first.
    """
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # a Python without the _json accelerator
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

    def fail(value: object) -> None:
        raise TypeError(f"not JSON: {value!r}")

    encode = c_make_encoder(None, fail, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda tree: "".join(encode(tree, 0))


#: The compact JSON text of a tree.
to_json = _make_encoder()


def json_bytes(tree: JSON) -> bytes:
    # surrogatepass: a str may hold lone surrogates, which strict UTF-8 can't carry.
    return to_json(tree).encode("utf-8", "surrogatepass")


def _not_json(constant: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON; we never write them (a float that is not
    # finite is a tagged value), and an attempt number of Infinity is poison.
    raise ValueError(f"{constant} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_not_json)
# The C scanner json.loads ends in, called directly. What we write has no whitespace around it;
# anything else takes the long way, so what is accepted is exactly what the decoder accepts.
_scan_once = _decoder.scan_once  # type: ignore[attr-defined] # set by __init__; typeshed omits it


def json_tree(data: bytes, what: str) -> Any:
    """The JSON in *data*; `DecodeError` naming *what* it should have been if it isn't JSON."""
    try:
        text = data.decode("utf-8", "surrogatepass")
        try:
            tree, end = _scan_once(text, 0)
        except StopIteration:  # no value at 0: leading whitespace, or not JSON at all
            return _decoder.decode(text)
        return tree if end == len(text) else _decoder.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DecodeError(f"{what} is not valid JSON: {e}") from e


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """The JSON object in *data*; `DecodeError` if it is not JSON, or JSON but not an object."""
    tree = json_tree(data, what)
    if type(tree) is not dict:
        raise DecodeError(f"{what} is not a JSON object")
    return tree
