"""The cattrs converter for the library's own classes on the wire: a spec's fields, its retry policy,
and outcome records.

- unknown keys are an error (a newer format carries a new version key instead);
- ``int | str`` (a mule target) passes through as JSON;
- exception classes travel as ``module:qualname`` and must import back to the same class;
- the user's values (a spec's args, kwargs and buffer, an outcome's value) are left to `_values`;
- fields that keep their default are left out: a smaller message is faster to write, send and read;
- specs are encoded here, but decoded by `_envelope` (checked by hand: it is every task's decode); a
  retry policy in one is structured here.
"""

from __future__ import annotations

import typing
from typing import Any, Final

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_union_passthrough

from .._exceptions import DecodeError, EncodeError
from .._outcomes._model import Outcome
from .._spec import TaskSpec
from ._values import class_path, imported

#: A spec's fields that hold the user's values: encoded by `_values`, never by cattrs.
VALUE_FIELDS: Final = ("args", "kwargs", "buffer")

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
    # detailed_validation off: its exception groups cost on every decode, and a bad task only needs
    # one clear reason.
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=False)
    configure_union_passthrough(int | str | float | bool | None, conv)
    conv.register_unstructure_hook_func(_is_type_of, _exception_path)
    conv.register_structure_hook_func(_is_type_of, _exception_class)
    omitted = {name: override(omit=True) for name in VALUE_FIELDS}
    spec_out = make_dict_unstructure_fn(TaskSpec, conv, _cattrs_omit_if_default=True, **omitted)  # type: ignore[arg-type] # cattrs types overrides as Any-valued kwargs
    conv.register_unstructure_hook(TaskSpec, spec_out)
    no_value = override(omit=True)
    outcome_out = make_dict_unstructure_fn(Outcome, conv, _cattrs_omit_if_default=True, value=no_value)
    conv.register_unstructure_hook(Outcome, outcome_out)
    conv.register_structure_hook(Outcome, make_dict_structure_fn(Outcome, conv, value=no_value))
    return conv


converter: Final = _make_converter()
