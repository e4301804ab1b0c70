"""What the result store keeps: outcome records, and single values (a task's result, a note).

A record is an outcome's own fields as JSON (through `_converter`) with its value encoded as an
argument is (JSON, or a signed pickle); with a secret configured it is sealed and bound to its task id
(see `_signing`), so that a record can't be moved to another task's name.
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs

from .._exceptions import DecodeError, EncodeError
from .._outcomes._model import Outcome
from . import _signing
from ._converter import converter
from ._framing import Encoded
from ._json import json_bytes, json_object, json_tree
from ._values import JSON, Encoder, decode


def encode_value(value: Any, where: str = "the result") -> Encoded[bytes]:
    """A single value (a task's result) in the same JSON-or-signed-pickle form as arguments."""
    encoder = Encoder()
    try:
        tree = encoder.encode(value, where)
    except RecursionError:
        raise EncodeError(f"{where} is nested too deeply to be sent") from None
    return Encoded(json_bytes(tree), tuple(encoder.pickled))


def decode_value(data: bytes) -> Any:
    try:
        return decode(json_tree(data, "the value"))
    except RecursionError:
        raise DecodeError("the value is nested too deeply") from None


def encode_outcome(outcome: Outcome) -> bytes:
    """An outcome record for the result store (a value that can't be stored records a failure),
    signed and bound to its task id when a secret is configured."""
    return _signing.seal_record(outcome.task_id, _outcome_json(outcome))


def _outcome_json(outcome: Outcome) -> bytes:
    tree: dict[str, JSON] = converter.unstructure(outcome)
    if outcome.has_value:
        try:
            tree["value"] = Encoder().encode(outcome.value, "the result")
        except (EncodeError, RecursionError) as e:
            error = EncodeError(f"the task returned a value that can't be stored: {e}")
            return _outcome_json(outcome.failed_by(error))
    return json_bytes(tree)


def decode_outcome(stored: bytes, task_id: str) -> Outcome:
    """The outcome of task *task_id* in a stored record; DecodeError if it isn't one (with a secret: an
    unsigned record, or one signed for another task). Its value names no module that isn't imported."""
    data = _signing.open_record(task_id, stored)
    if data is None:
        raise DecodeError(f"the record of task {task_id} is not signed with the configured secret")
    tree = json_object(data, "the outcome record")
    value = tree.pop("value", None)
    try:
        outcome = converter.structure(tree, Outcome)
        if outcome.has_value:
            outcome = attrs.evolve(outcome, value=decode(value))
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
    if outcome.task_id != task_id:
        raise DecodeError(f"the record of task {task_id} is the outcome of task {outcome.task_id}")
    return outcome


def outcome_tree(data: bytes) -> dict[str, Any]:
    """An outcome record as plain JSON, its value left encoded: nothing imported or unpickled, and its
    signature not checked (for showing to people)."""
    return json_object(_signing.unsealed(data), "the outcome record")
