"""TaskSpec <-> JSON bytes: cattrs for the spec's own fields, `_values` for the user's values."""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_union_passthrough

from .._exceptions import DecodeError, EncodeError
from .._outcome import ErrorInfo, Outcome, TaskStatus
from .._retry import RetryPolicy
from .._spec import LAST_SECOND, PRIORITIES, TaskSpec
from ._values import JSON, Encoder, class_path, decode, imported, json_pieces, quote, scalar_text

# User values: encoded by `_values`, never by cattrs.
_VALUE_FIELDS: Final = ("args", "kwargs", "buffer")

_exception_paths: dict[type, str] = {}


def _exception_path(cls: type[BaseException]) -> str:
    path = _exception_paths.get(cls)
    if path is None:
        path = class_path(cls)
        try:
            importable = imported(path) is cls
        except DecodeError:
            importable = False
        if not importable:
            raise EncodeError(f"exception class {path} can't be imported by that path where the task runs")
        _exception_paths[cls] = path
    return path


def _exception_class(path: str, _: object) -> type[BaseException]:
    cls = imported(path)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise DecodeError(f"{path!r} is not an exception class")
    return cls


def _is_type_of(t: Any) -> bool:
    return typing.get_origin(t) is type


def _make_converter() -> cattrs.Converter:
    """The converter for the spec envelope.

    - unknown keys are an error (a newer format carries a new version key instead);
    - ``int | str`` (a mule target) passes through as JSON;
    - exception classes travel as ``module:qualname`` and must import back to the same class;
    - the user's values (args, kwargs, buffer) are left to `_values`;
    - a spec's fields that keep their default are left out;
    - specs are encoded here, but decoded by `_structure_spec` (checked by hand: it is every task's
      decode); a retry policy in one is structured here.
    """
    # detailed_validation off: its exception groups cost on every decode, and a bad task only needs
    # one clear reason.
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=False)
    configure_union_passthrough(int | str | float | bool | None, conv)
    conv.register_unstructure_hook_func(_is_type_of, _exception_path)
    conv.register_structure_hook_func(_is_type_of, _exception_class)
    omitted = {name: override(omit=True) for name in _VALUE_FIELDS}
    # Defaults are left out: a smaller message is faster to write, send and read.
    spec_out = make_dict_unstructure_fn(TaskSpec, conv, _cattrs_omit_if_default=True, **omitted)  # type: ignore[arg-type] # cattrs types overrides as Any-valued kwargs
    conv.register_unstructure_hook(TaskSpec, spec_out)
    no_value = override(omit=True)
    outcome_out = make_dict_unstructure_fn(Outcome, conv, _cattrs_omit_if_default=True, value=no_value)
    conv.register_unstructure_hook(Outcome, outcome_out)
    conv.register_structure_hook(Outcome, make_dict_structure_fn(Outcome, conv, value=no_value))
    return conv


_converter = _make_converter()


def _make_json_encoder() -> Callable[[JSON], str]:
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


_to_json = _make_json_encoder()


def json_bytes(tree: JSON) -> bytes:
    # surrogatepass: a str may hold lone surrogates, which strict UTF-8 can't carry.
    return _to_json(tree).encode("utf-8", "surrogatepass")


def _not_json(constant: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON; we never write them (a float that is not
    # finite is a tagged value), and an attempt number of Infinity is poison.
    raise ValueError(f"{constant} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_not_json)
# The C scanner json.loads ends in, called directly: json.loads's Python layers (type checks, two
# whitespace regexes) cost as much as scanning a small task. What we write has no whitespace around
# it; anything else takes the long way, so what is accepted is exactly what the decoder accepts.
_scan_once = _decoder.scan_once  # type: ignore[attr-defined] # set by __init__; typeshed omits it


def json_tree(data: bytes, what: str) -> Any:
    try:
        text = data.decode("utf-8", "surrogatepass")
        try:
            tree, end = _scan_once(text, 0)
        except StopIteration:  # no value at 0: leading whitespace, or not JSON at all
            return _decoder.decode(text)
        return tree if end == len(text) else _decoder.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DecodeError(f"{what} is not valid JSON: {e}") from e


def dumps_value(value: Any, where: str) -> tuple[bytes, list[str]]:
    """One value (a task's result) as JSON, and where it had to be pickled."""
    encoder = Encoder()
    try:
        tree = encoder.encode(value, where)
    except RecursionError:
        raise EncodeError(f"{where} is nested too deeply to be sent") from None
    return json_bytes(tree), encoder.pickled


def loads_value(data: bytes) -> Any:
    try:
        return decode(json_tree(data, "the value"))
    except RecursionError:
        raise DecodeError("the value is nested too deeply") from None


def dumps(spec: TaskSpec) -> tuple[bytes, list[str]]:
    """The spec as UTF-8 JSON, and where its values had to be pickled."""
    encoder = Encoder()
    tree: dict[str, JSON] = _converter.unstructure(spec)
    try:
        tree["args"] = [encoder.encode(v, f"args[{i}]") for i, v in enumerate(spec.args)]
        tree["kwargs"] = {k: encoder.encode(v, k) for k, v in spec.kwargs.items()}
        tree["buffer"] = encoder.encode(dict(spec.buffer), "buffer")
    except RecursionError:
        raise EncodeError("the arguments are nested too deeply to be sent") from None
    return json_bytes(tree), encoder.pickled


_CONTAINERS: Final = frozenset({list, dict})

# What changes from one send of a task to the next; the rest of its spec is encoded once.
_PER_SEND = ("task_id", "enqueued_at", "working_dir", "at")


class Template:
    """The JSON of a task's spec without the fields that change per send, encoded once.

    Sending then encodes only the per-send fields and the arguments, and splices them in: the same
    JSON `dumps` would make, at a fraction of the cost. *prototype* is a spec with the task's fixed
    fields (function, retry policy, priority, ...); its per-send fields are ignored.
    """

    def __init__(self, prototype: TaskSpec) -> None:
        tree = _converter.unstructure(prototype)
        for name in _PER_SEND:
            tree.pop(name, None)
        # "function" is always there: never empty. Text: the per-send head is made as one string.
        self.prefix = _to_json(tree)[:-1] + ","

    def dumps(
        self,
        task_id: str,
        enqueued_at: float,
        working_dir: str | None,
        at: int | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> tuple[bytes, list[str]]:
        # task_id is ours (hex) and enqueued_at a finite float: both are their own JSON.
        head = f'{self.prefix}"task_id":"{task_id}","enqueued_at":{enqueued_at!r}'
        if working_dir is not None:
            head = f'{head},"working_dir":{quote(working_dir)}'
        if at is not None:
            head = f'{head},"at":{at:d}'
        text = _scalar_arguments(args, kwargs)
        if text is not None:
            return f"{head}{text}}}".encode("utf-8", "surrogatepass"), []
        parts = [head.encode("utf-8", "surrogatepass"), b',"args":[']
        encoder: Encoder | None = None  # only for values that are not plain scalars
        try:
            for i, value in enumerate(args):
                pieces = json_pieces(value)
                if pieces is None:
                    encoder = encoder or Encoder()
                    pieces = (json_bytes(encoder.encode(value, f"args[{i}]")),)
                if i:
                    parts.append(b",")
                parts += pieces
            parts.append(b"]")
            if kwargs:
                parts.append(b',"kwargs":{')
                for i, (key, value) in enumerate(kwargs.items()):
                    pieces = json_pieces(value)
                    if pieces is None:
                        encoder = encoder or Encoder()
                        pieces = (json_bytes(encoder.encode(value, key)),)
                    parts += (b"," if i else b"", quote(key).encode("utf-8", "surrogatepass"), b":")
                    parts += pieces
                parts.append(b"}")
        except RecursionError:
            raise EncodeError("the arguments are nested too deeply to be sent") from None
        parts.append(b"}")
        return b"".join(parts), [] if encoder is None else encoder.pickled


def _scalar_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """The ``"args"`` and ``"kwargs"`` members as one text when every value is a plain scalar or small
    bytes (the common case: no `Encoder`, no bytes pieces to join); None otherwise."""
    texts = []
    for value in args:
        text = quote(value) if type(value) is str else scalar_text(value)  # str: the commonest, inline
        if text is None:
            return None
        texts.append(text)
    joined = ',"args":[' + ",".join(texts) + "]"
    if not kwargs:
        return joined
    items = []
    for key, value in kwargs.items():
        text = scalar_text(value)
        if text is None or type(key) is not str:
            return None
        items.append(f"{quote(key)}:{text}")
    return joined + ',"kwargs":{' + ",".join(items) + "}"


_NONE: Final = type(None)

# The spec's own scalar fields and the exact JSON types each may hold (bool is not an int here).
# Checked by hand rather than by cattrs: it is every task's decode, and cattrs converts where a
# hostile or broken file should be refused ("3" is not an attempt number).
_SCALARS: Final[dict[str, tuple[type, ...]]] = {
    "function": (str,),
    "task_id": (str,),
    "enqueued_at": (float, int),
    "attempt": (int,),
    "at": (int, _NONE),
    "priority": (int, _NONE),
    "spooler": (str, _NONE),
    "mule": (int, str, _NONE),
    "working_dir": (str, _NONE),
    "spooler_return": (bool,),
    "store_result": (bool,),
}
_SPEC_KEYS: Final = frozenset(field.name for field in attrs.fields(TaskSpec))
assert {*_SCALARS, *_VALUE_FIELDS, "retry"} == _SPEC_KEYS, "a TaskSpec field the decoder doesn't know"

# A decoded spec is made by filling its instance dict, as TaskSpec's own __init__ does but without the
# keyword call (half the cost of a decode's structuring). That is only the same thing while TaskSpec
# keeps a dict, plain defaults and no validators, converters or post-init: checked here.
_REQUIRED: Final = frozenset(f.name for f in attrs.fields(TaskSpec) if f.default is attrs.NOTHING)
_DEFAULTS: Final = {k: v for k, v in vars(TaskSpec("", "", 0.0)).items() if k not in _REQUIRED}
assert not hasattr(TaskSpec, "__slots__") and not hasattr(TaskSpec, "__attrs_post_init__")
assert not any(f.validator or f.converter for f in attrs.fields(TaskSpec))
assert _REQUIRED | _DEFAULTS.keys() == _SPEC_KEYS
assert {k for k, v in _DEFAULTS.items() if isinstance(v, dict)} == {"kwargs", "buffer"}  # made afresh


#: More attempts than any retry policy asks for is a forged or broken count.
MOST_ATTEMPTS: Final = 1_000_000


def _check_scalars(tree: dict[str, Any]) -> None:
    """The spec's own fields: exact JSON types, then values a task can have (a file that parses is
    not yet a task: ``"attempt": 10**30`` or an ``at`` past year 9999 would fail far from here)."""
    if not tree.keys() <= _SPEC_KEYS:
        raise DecodeError(f"not a valid task: unknown fields {sorted(tree.keys() - _SPEC_KEYS)}")
    for name, value in tree.items():
        kinds = _SCALARS.get(name)
        if kinds is not None and type(value) not in kinds:
            raise DecodeError(f"not a valid task: {name} is {type(value).__name__} {value!r:.80}")
    problem = None
    task_id, attempt = tree.get("task_id", "0"), tree.get("attempt", 1)
    enqueued_at, at = tree.get("enqueued_at", 0.0), tree.get("at")
    priority, mule = tree.get("priority"), tree.get("mule")
    if not (0 < len(task_id) <= 64 and task_id.isascii() and task_id.isalnum()):
        problem = f"task_id {task_id[:80]!r} is not a task id"
    elif not 1 <= attempt <= MOST_ATTEMPTS:
        problem = f"attempt {str(attempt)[:80]} is not an attempt number"
    elif not (isinstance(enqueued_at, int) or math.isfinite(enqueued_at)):
        problem = f"enqueued_at {enqueued_at} is not a time"
    elif at is not None and not 0 <= at <= LAST_SECOND:
        problem = f"at={str(at)[:80]} is not a unix second before year 10000"
    elif priority is not None and not 0 <= priority < PRIORITIES:
        problem = f"priority {str(priority)[:80]} is not a spooler priority (0 or more)"
    elif (type(mule) is int and mule < 0) or mule == "":
        problem = f"mule {mule!r} is not a mule or farm"
    if problem is not None:
        raise DecodeError(f"not a valid task: {problem}")


def _structure_spec(tree: dict[str, Any]) -> TaskSpec:
    """A TaskSpec from its JSON object (checked by `_check_scalars`), the user's values decoded."""
    enqueued_at = tree.get("enqueued_at")
    if type(enqueued_at) is int:  # a producer that wrote whole seconds
        tree["enqueued_at"] = float(enqueued_at)
    retry = tree.get("retry")
    if retry is not None:
        tree["retry"] = _converter.structure(retry, RetryPolicy)
    if not tree.keys() >= _REQUIRED:
        raise DecodeError(f"not a valid task: missing fields {sorted(_REQUIRED - tree.keys())}")
    spec: TaskSpec = object.__new__(TaskSpec)
    fields = spec.__dict__
    fields.update(_DEFAULTS)
    fields["kwargs"], fields["buffer"] = {}, {}
    fields.update(tree)
    return spec


def loads(data: bytes, admit: Callable[[str], object] | None = None) -> TaskSpec:
    """The spec in *data*; `DecodeError` for anything but a valid spec.

    *admit* is called with the function path once the spec's own fields are checked, before any
    value is decoded (see `_codec.Admit`); what it raises leaves here as it is.
    """
    tree = json_tree(data, "the task")
    if type(tree) is not dict:
        raise DecodeError("the task is not a JSON object")
    args, kwargs = tree.get("args"), tree.get("kwargs", {})
    if not (type(args) is list and type(kwargs) is dict):
        raise DecodeError("not a valid task: args must be a JSON array and kwargs an object")
    _check_scalars(tree)
    if admit is not None and "function" in tree:
        admit(tree["function"])
    try:
        # Scalars are their own value: only containers and tags need decoding.
        tree["args"] = tuple([decode(v) if type(v) in _CONTAINERS else v for v in args])
        if kwargs:
            tree["kwargs"] = {k: decode(v) if type(v) in _CONTAINERS else v for k, v in kwargs.items()}
        if "buffer" in tree:  # absent: the default; present, it must be a dict (null is not)
            tree["buffer"] = decode(tree["buffer"])
            if type(tree["buffer"]) is not dict:
                raise DecodeError("not a valid task: the buffer is not a dict")
        return _structure_spec(tree)
    except DecodeError:
        raise
    except Exception as e:  # whatever a broken retry policy makes cattrs raise: never "try again"
        raise DecodeError(f"not a valid task: {e!r}") from e


def dumps_outcome(outcome: Outcome) -> bytes:
    """An outcome record; a value that can't be encoded turns the record into a failure."""
    tree: dict[str, JSON] = _converter.unstructure(outcome)
    if outcome.has_value:
        try:
            tree["value"] = Encoder().encode(outcome.value, "the result")
        except (EncodeError, RecursionError) as e:
            error = EncodeError(f"the task returned a value that can't be stored: {e}")
            failed = attrs.evolve(
                outcome,
                status=TaskStatus.FAILED,
                value=None,
                has_value=False,
                error=ErrorInfo.from_exception(error),
            )
            return dumps_outcome(failed)
    return json_bytes(tree)


def loads_outcome(data: bytes) -> Outcome:
    """The outcome in a record's JSON (unsealed by `_codec.decode_outcome`)."""
    tree = json_tree(data, "the outcome record")
    if not isinstance(tree, dict):
        raise DecodeError("the outcome record is not a JSON object")
    value = tree.pop("value", None)
    try:
        outcome = _converter.structure(tree, Outcome)
        return attrs.evolve(outcome, value=decode(value)) if outcome.has_value else outcome
    except DecodeError:
        raise
    except (
        cattrs.BaseValidationError,
        cattrs.ForbiddenExtraKeysError,
        KeyError,
        ValueError,
        TypeError,
        RecursionError,
    ) as e:
        raise DecodeError(f"not a valid outcome record: {e!r}") from e
