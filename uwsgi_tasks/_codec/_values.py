"""Python values <-> JSON trees that give back an equal value of the same type.

JSON carries None, bool, int, float, str, list and str-keyed dicts natively. Anything else becomes a
tag: a JSON object with exactly one key starting with ``$``::

    {"$tuple": [...]}   {"$set": [...]}   {"$frozenset": [...]}   {"$map": [[k, v], ...]}
    {"$bytes": "<base64>"}   {"$bytearray": "<base64>"}   {"$float": "nan"}   {"$int": "<hex>"}
    {"$datetime": [wall, tz, fold]}   {"$date": iso}   {"$time": [wall, tz, fold]}
    {"$timedelta": [days, seconds, microseconds]}   {"$decimal": str}   {"$uuid": hex}
    {"$enum": ["module:Qual", value]}   {"$obj": ["module:Qual", fields]}   (attrs or dataclass, via cattrs)
    {"$pickle": "<base64 signed pickle>"}   {"$d": {...}} (a dict that would look like a tag)

A timezone *tz* is null (naive), ``[offset_microseconds, name]`` (a fixed offset) or a zoneinfo key.
Values are dispatched on their exact type, so subclasses (an IntEnum, a str subclass) never silently
lose their type. Whatever has no exact JSON form is pickled and signed, node by node; the encoder
records where it did.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
import math
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Final, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

import attrs
import cattrs

from .._exceptions import DecodeError
from . import _signing

T = TypeVar("T")

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"

# json refuses ints longer than sys.get_int_max_str_digits() digits (4300 by default).
_LONG_INT_BITS = 4000 * 3

_NATIVE = (datetime, date, time, timedelta, Decimal, uuid.UUID, bytes, bytearray)

# Converts attrs and dataclass arguments. Leaves with a tag of their own (datetimes, bytes, ...) pass
# through it untouched; this module's tags carry them.
_objects = cattrs.Converter()


def _passthrough(value: Any, cls: type) -> Any:
    if type(value) is not cls:
        raise TypeError(f"expected {cls.__qualname__}, got {type(value).__qualname__}")
    return value


_objects.register_structure_hook_func(lambda t: t in _NATIVE, _passthrough)


def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def imported(path: str) -> Any:
    """The object named ``module:qualname`` in a module this process has already imported.

    Nothing is imported, and no attribute hook runs: the names are looked up in the module's and
    classes' own namespaces. A value read from a message or a record must never import a module
    because the data said so (its top-level code would run); the types a task's values use are
    imported by the task's own module, which is found first. DecodeError if it isn't there.
    """
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise DecodeError(f"{path[:200]!r} is not a 'module:qualname' path")
    found: Any = sys.modules.get(module_name)
    if found is None:
        raise DecodeError(f"{path!r}: its module is not imported in this process (values never import)")
    for part in qualname.split("."):
        try:
            found = vars(found)[part]
        except (KeyError, TypeError):
            raise DecodeError(f"{path!r} is not defined in module {module_name!r}") from None
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise DecodeError(f"expected base64 text, got {text!r}")
    if sys.version_info >= (3, 11):  # strict in C, where b64decode(validate=True) runs a regex first
        return binascii.a2b_base64(text, strict_mode=True)  # reads ASCII text in place: no copy
    return base64.b64decode(text.encode("ascii"), validate=True)


quote: Final = json.encoder.encode_basestring  # the C function, where Python has it


# Bytes up to this size are written as text with the other scalars; larger ones are kept as bytes.
_SMALL_BYTES: Final = 4096


def scalar_text(value: Any) -> str | None:
    """The JSON text of a plain scalar or small bytes (most arguments are); None for anything else,
    which goes through `Encoder`."""
    kind = type(value)
    if kind is str:
        return quote(value)
    if kind is int and -(2**63) < value < 2**63:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is bytes and len(value) <= _SMALL_BYTES:
        return '{"$bytes":"' + base64.b64encode(value).decode("ascii") + '"}'
    return None


def json_pieces(value: Any) -> tuple[bytes, ...] | None:
    """`scalar_text` as UTF-8 pieces for the caller to join, for bytes of any size. Large bytes are
    copied as few times as possible (every copy of a big buffer is fresh memory to fault in): their
    base64 is a piece of its own, copied once more only by the final join."""
    if type(value) is bytes:
        return (b'{"$bytes":"', base64.b64encode(value), b'"}')
    text = scalar_text(value)
    return None if text is None else (text.encode("utf-8", "surrogatepass"),)


def _tz_tree(tz: tzinfo | None) -> JSON:
    """JSON for a timezone, or raise LookupError when it has no exact JSON form."""
    if tz is None:
        return None
    if type(tz) is ZoneInfo and str(tz) == tz.key:  # not a zone loaded from a file (key None)
        return tz.key
    if type(tz) is timezone:
        offset = tz.utcoffset(None)
        default_name = timezone(offset).tzname(None)
        name = tz.tzname(None)
        return [offset // timedelta(microseconds=1), None if name == default_name else name]
    raise LookupError(tz)


def _tz_value(tree: Any) -> tzinfo | None:
    if tree is None:
        return None
    if isinstance(tree, str):
        return ZoneInfo(tree)
    micros, name = tree
    offset = timedelta(microseconds=micros)
    return timezone(offset) if name is None else timezone(offset, name)


class Encoder:
    """Encodes values for one message, remembering which parts had to be pickled."""

    def __init__(self) -> None:
        self.pickled: list[str] = []

    def encode(self, value: Any, where: str) -> JSON:
        kind = type(value)
        if kind is str or kind is bool or value is None:
            return value  # type: ignore[no-any-return] # exact JSON scalars
        if kind is int:
            return value if value.bit_length() < _LONG_INT_BITS else {"$int": format(value, "x")}
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if kind is list:
            return [self.encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if kind is dict:
            return self._dict(value, where)
        encode_tagged = _TAGGED.get(kind)
        if encode_tagged is not None:
            try:
                return encode_tagged(self, value, where)
            except LookupError:  # no exact JSON form (e.g. a pytz timezone): pickle below
                pass
        elif isinstance(value, enum.Enum):
            return self._enum(value, where)
        elif attrs.has(kind) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            tree = self._object(value, where)
            if tree is not None:
                return tree
        return self._pickle(value, where)

    def _dict(self, value: dict[Any, Any], where: str) -> JSON:
        if all(type(k) is str for k in value):
            tree: dict[str, JSON] = {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
            if len(tree) == 1 and next(iter(tree)).startswith("$"):
                return {"$d": tree}
            return tree
        return {
            "$map": [
                [self.encode(k, f"{where}<key {k!r}>"), self.encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }

    def _items(self, tag: str, value: Any, where: str) -> JSON:
        return {tag: [self.encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}

    def _enum(self, value: enum.Enum, where: str) -> JSON:
        cls = type(value)
        if "<locals>" in cls.__qualname__:
            return self._pickle(value, where)
        return {"$enum": [class_path(cls), self.encode(value.value, f"{where}.value")]}

    def _object(self, value: Any, where: str) -> JSON | None:
        """An attrs or dataclass instance through cattrs, if that gives back an equal instance."""
        cls = type(value)
        if "<locals>" in cls.__qualname__:
            return None
        try:
            raw = _objects.unstructure(value)
            probe = Encoder()
            tree = probe.encode(raw, where)
            if probe.pickled or _objects.structure(decode(tree), cls) != value:
                return None
        except Exception:  # cattrs can't do this class: the pickle fallback decides
            return None
        return {"$obj": [class_path(cls), tree]}

    def _pickle(self, value: Any, where: str) -> JSON:
        blob = _signing.dumps(value, where)
        self.pickled.append(where)
        return {"$pickle": _b64(blob)}


def _datetime(enc: Encoder, value: datetime, where: str) -> JSON:
    tz = _tz_tree(value.tzinfo)
    return {"$datetime": [value.replace(tzinfo=None).isoformat(), tz, value.fold]}


def _time(enc: Encoder, value: time, where: str) -> JSON:
    tz = _tz_tree(value.tzinfo)
    if isinstance(tz, str):  # a zoneinfo time has no offset without a date
        raise LookupError(value.tzinfo)
    return {"$time": [value.replace(tzinfo=None).isoformat(), tz, value.fold]}


_TAGGED: dict[type, Callable[[Encoder, Any, str], JSON]] = {
    tuple: lambda enc, v, where: enc._items("$tuple", v, where),
    set: lambda enc, v, where: enc._items("$set", v, where),
    frozenset: lambda enc, v, where: enc._items("$frozenset", v, where),
    bytes: lambda enc, v, where: {"$bytes": _b64(v)},
    bytearray: lambda enc, v, where: {"$bytearray": _b64(v)},
    datetime: _datetime,
    date: lambda enc, v, where: {"$date": v.isoformat()},
    time: _time,
    timedelta: lambda enc, v, where: {"$timedelta": [v.days, v.seconds, v.microseconds]},
    Decimal: lambda enc, v, where: {"$decimal": str(v)},
    uuid.UUID: lambda enc, v, where: {"$uuid": v.hex},
}


def register_type(
    cls: type[T], tag: str, to_json: Callable[[T], JSON], from_json: Callable[[Any], T]
) -> None:
    """Carry instances of *cls* (exactly) as ``{tag: to_json(value)}``."""
    _TAGGED[cls] = lambda enc, value, where: {tag: to_json(value)}
    _DECODERS[tag] = from_json


def _wall(parts: Any, parse: Callable[[str], Any]) -> Any:
    text, tz, fold = parts
    if fold not in (0, 1):
        raise DecodeError(f"bad fold {fold!r}")
    return parse(text).replace(tzinfo=_tz_value(tz), fold=fold)


def _instance(path: Any, tree: Any) -> Any:
    cls = imported(path)
    if not (isinstance(cls, type) and (attrs.has(cls) or dataclasses.is_dataclass(cls))):
        raise DecodeError(f"{path!r} is not an attrs class or a dataclass")
    return _objects.structure(decode(tree), cls)


def _enum_member(path: Any, tree: Any) -> Any:
    cls = imported(path)
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
        raise DecodeError(f"{path!r} is not an Enum")
    return cls(decode(tree))


def _mapping(pairs: Any) -> dict[Any, Any]:
    return {decode(k): decode(v) for k, v in pairs}


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$tuple": lambda v: tuple(decode(i) for i in v),
    "$set": lambda v: {decode(i) for i in v},
    "$frozenset": lambda v: frozenset(decode(i) for i in v),
    "$map": _mapping,
    "$d": lambda v: {k: decode(i) for k, i in v.items()},
    "$bytes": _unb64,
    "$bytearray": lambda v: bytearray(_unb64(v)),
    "$float": lambda v: float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[v]),
    "$int": lambda v: int(v, 16),
    "$datetime": lambda v: _wall(v, datetime.fromisoformat),
    "$date": date.fromisoformat,
    "$time": lambda v: _wall(v, time.fromisoformat),
    "$timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "$decimal": Decimal,
    "$uuid": lambda v: uuid.UUID(hex=v),
    "$enum": lambda v: _enum_member(*v),
    "$obj": lambda v: _instance(*v),
    "$pickle": lambda v: _signing.loads(_unb64(v)),
}


def decode(tree: Any) -> Any:
    """The value a tree made by `Encoder.encode` stands for. Raises `DecodeError` on a bad tree."""
    kind = type(tree)
    if kind is list:
        return [decode(item) for item in tree]
    if kind is dict:
        if len(tree) == 1:
            ((tag, payload),) = tree.items()
            if tag.startswith("$"):
                decoder = _DECODERS.get(tag)
                if decoder is None:
                    raise DecodeError(f"unknown value tag {tag!r}")
                try:
                    return decoder(payload)
                except DecodeError:
                    raise
                except Exception as e:
                    raise DecodeError(f"bad {tag} value {payload!r:.200}: {e!r}") from e
        return {k: decode(v) for k, v in tree.items()}
    return tree
