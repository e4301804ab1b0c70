"""One encoder for a whole spec and for a send, writing the very bytes each wrote before.

The bytes are what the signature covers and what spool files already on disk hold, so they are pinned
against a reference written independently of the encoder: the spec's fields through the converter,
then its values as a JSON tree through json.dumps, in the order each kind of message always had.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import strategies
from tests.strategies import same
from tests.unit.test_codec import as_received, plain_scalars
from uwsgi_tasks import _codec
from uwsgi_tasks._codec._converter import converter
from uwsgi_tasks._codec._values import Encoder
from uwsgi_tasks._spec import TaskSpec

# Any argument: trees of every kind the codec carries (pickles included), and the plain scalars the
# send's text-only path writes (NaN and infinities, bytes past the size it writes as text).
arguments = strategies.values() | plain_scalars

relaxed = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def json_text(tree: dict[str, Any]) -> bytes:
    return json.dumps(tree, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )


def spec_reference(spec: TaskSpec) -> tuple[bytes, tuple[str, ...]]:
    """A whole spec: its fields but those at their default, then args, kwargs (even empty) and the
    buffer."""
    encoder = Encoder()
    tree = converter.unstructure(spec)
    tree["args"] = [encoder.encode(v, f"args[{i}]") for i, v in enumerate(spec.args)]
    tree["kwargs"] = {k: encoder.encode(v, k) for k, v in spec.kwargs.items()}
    tree["buffer"] = encoder.encode(dict(spec.buffer), "buffer")
    return json_text(tree), tuple(encoder.pickled)


def send_reference(prototype: TaskSpec, spec: TaskSpec) -> tuple[bytes, tuple[str, ...]]:
    """A send of *spec*'s per-send fields and arguments: the prototype's fixed fields, then task_id,
    enqueued_at, working_dir and at (the last two when set), args, and kwargs when there are some."""
    encoder = Encoder()
    tree = converter.unstructure(prototype)
    for name in ("task_id", "enqueued_at", "working_dir", "at"):
        tree.pop(name, None)
    tree["task_id"], tree["enqueued_at"] = spec.task_id, spec.enqueued_at
    if spec.working_dir is not None:
        tree["working_dir"] = spec.working_dir
    if spec.at is not None:
        tree["at"] = spec.at
    tree["args"] = [encoder.encode(v, f"args[{i}]") for i, v in enumerate(spec.args)]
    if spec.kwargs:
        tree["kwargs"] = {k: encoder.encode(v, k) for k, v in spec.kwargs.items()}
    return json_text(tree), tuple(encoder.pickled)


def received(out: _codec.Outgoing) -> list[TaskSpec]:
    """The spec *out* carries, read from its spool dict and from its mule message."""
    return [
        _codec.decode_spool(as_received(_codec.spool_message(out))),
        _codec.decode_mule(_codec.mule_message(out)),
    ]


@relaxed
@given(spec=strategies.specs(args=arguments))
def test_a_whole_spec_is_written_as_it_always_was(secret: str, spec: TaskSpec) -> None:
    """A retry or a re-dispatch (attempt, buffer, mule and all) is the bytes `dumps` wrote, and reads
    back as the same spec."""
    out = _codec.outgoing(spec)
    assert (out.data, out.pickled) == spec_reference(spec)
    assert (out.task_id, out.attempt, out.at, out.priority, out.spooler, out.mule, out.store_result) == (
        spec.task_id,
        spec.attempt,
        spec.at,
        spec.priority,
        spec.spooler,
        spec.mule,
        spec.store_result,
    )
    for decoded in received(out):
        assert same(decoded, spec)


@relaxed
@given(spec=strategies.specs(args=arguments), noise=strategies.task_ids)
def test_a_send_is_written_as_it_always_was(secret: str, spec: TaskSpec, noise: str) -> None:
    """A send through a template is the bytes it always was (the prototype's own per-send fields and
    values count for nothing), and reads back as the spec sent: a first attempt, no buffer."""
    prototype = attrs.evolve(spec, task_id=noise, attempt=1, args=(), kwargs={}, buffer={})
    out = _codec.Template(prototype).outgoing(
        spec.task_id, spec.enqueued_at, spec.working_dir, spec.at, spec.args, spec.kwargs
    )
    assert (out.data, out.pickled) == send_reference(prototype, spec)
    for decoded in received(out):
        assert same(decoded, attrs.evolve(spec, attempt=1, buffer={}))


@given(buffer=st.dictionaries(st.text("ab", max_size=3), st.integers(), max_size=2))
def test_the_buffer_is_written_last_even_when_empty(buffer: dict[str, int]) -> None:
    """The one part of a whole spec a send never has: after the (possibly empty) kwargs."""
    data = _codec.outgoing(TaskSpec("m:f", "f" * 32, 1.0, buffer=buffer)).data
    assert data.endswith(b',"kwargs":{},"buffer":' + json_text(buffer) + b"}")
