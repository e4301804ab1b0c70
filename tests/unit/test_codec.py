"""The wire format: values, specs, spool dicts and mule messages round-trip, and bad input is refused."""

from __future__ import annotations

import base64
import contextlib
import enum
import json
import math
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uwsgi_tasks
from tests import strategies
from tests.strategies import Opaque, Point, same
from uwsgi_tasks import DecodeError, EncodeError, _codec
from uwsgi_tasks._codec import PACKET_LIMIT, _json, _signing, _values
from uwsgi_tasks._spec import TaskSpec


def round_trip(value: Any) -> Any:
    return _codec.decode_value(_codec.encode_value(value).message)


@given(strategies.json_values)
def test_values_round_trip_without_pickle(value: Any) -> None:
    """Every value with an exact JSON form comes back equal and of the same type, unpickled."""
    encoded = _codec.encode_value(value)
    assert encoded.pickled == ()
    assert same(value, _codec.decode_value(encoded.message))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=strategies.values())
def test_values_round_trip_with_signed_pickle_fallback(secret: str, value: Any) -> None:
    """Values without a JSON form fall back to a signed pickle, node by node, and still round-trip."""
    assert same(value, round_trip(value))


def test_nan_round_trips() -> None:
    """NaN and infinities travel as tagged floats."""
    assert math.isnan(round_trip(float("nan")))
    assert round_trip([float("inf"), float("-inf")]) == [float("inf"), float("-inf")]


def test_types_that_json_would_confuse_are_kept() -> None:
    """Tuples stay tuples, bools stay bools, non-str keys stay, dicts that look like tags stay dicts."""
    value = {"t": (1, [2, (3,)]), 1: True, (1, 2): None, "$tuple": [1]}
    assert same(value, round_trip(value))
    assert same({"$d": 1}, round_trip({"$d": 1}))


def test_aware_datetimes_keep_their_instant_and_zone() -> None:
    """An aware datetime keeps its zone: 0.7.3 read 12:00+03:00 as 12:00 UTC."""
    moscow = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    paris = datetime(2030, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))
    back = round_trip([moscow, paris])
    assert back[0].timestamp() == moscow.timestamp()
    assert back[1].tzinfo == ZoneInfo("Europe/Paris")
    assert back[1].fold == 1 and back[1].utcoffset() == timedelta(hours=1)


def test_attrs_and_dataclass_arguments_go_as_json_through_cattrs() -> None:
    """attrs and dataclass instances that cattrs round-trips exactly need no pickle."""
    point = Point(1, 2.5, "p", datetime(2030, 1, 1, tzinfo=timezone.utc))
    encoded = _codec.encode_value(point)
    assert encoded.pickled == ()
    assert b'"$obj"' in encoded.message and b"tests.strategies:Point" in encoded.message
    assert round_trip(point) == point


def test_pickle_fallback_needs_a_secret() -> None:
    """Without a secret, a value JSON can't carry is refused with a message naming it and the fix."""
    with pytest.raises(EncodeError, match=r"args\[1\].*Opaque.*UWSGITASKS_SECRET"):
        _codec.encode_spool(TaskSpec("m:f", "a" * 32, 0.0, args=(1, Opaque(1))))


def test_pickle_fallback_is_reported(secret: str) -> None:
    """The places that had to be pickled are reported, by argument."""
    spec = TaskSpec("m:f", "a" * 32, 0.0, args=(1, Opaque(1)), kwargs={"b": [Opaque(2)]})
    encoded = _codec.encode_spool(spec)
    assert encoded.pickled == ("args[1]", "b[0]")
    assert _codec.decode_spool(encoded.message) == spec


def test_unpicklable_values_raise_encode_error_naming_the_argument(secret: str) -> None:
    """A value neither JSON nor pickle can carry is an EncodeError naming the argument."""
    with pytest.raises(EncodeError, match=r"callback.*neither as JSON nor as a pickle"):
        _codec.encode_spool(TaskSpec("m:f", "a" * 32, 0.0, kwargs={"callback": lambda: 1}))


def _pickle_node(blob: bytes) -> bytes:
    return json.dumps({"$pickle": base64.b64encode(blob).decode()}).encode()


def test_unsigned_pickles_are_never_loaded(secret: str) -> None:
    """A raw pickle, or one signed with another key, is refused before anything is unpickled."""
    raw = pickle.dumps(Opaque(1))
    with pytest.raises(DecodeError, match="not a signed"):
        _codec.decode_value(_pickle_node(raw))
    uwsgi_tasks.configure(secret="another-secret-0123456789")
    forged = _signing.dumps(Opaque(1), "x")
    uwsgi_tasks.configure(secret=secret)
    with pytest.raises(DecodeError, match="does not verify"):
        _codec.decode_value(_pickle_node(forged))


def test_old_secrets_still_verify(secret: str) -> None:
    """Rotating keys: what the old secret signed still loads while it is listed in old_secrets."""
    blob = _signing.dumps(Opaque(3), "x")
    uwsgi_tasks.configure(secret="the-new-secret-0123456789", old_secrets=[secret])
    assert _signing.loads(blob) == Opaque(3)
    uwsgi_tasks.configure(old_secrets=[])
    with pytest.raises(DecodeError):
        _signing.loads(blob)


def test_short_secrets_are_refused() -> None:
    """A secret under 16 bytes is a ValueError."""
    with pytest.raises(ValueError, match="16 bytes"):
        uwsgi_tasks.configure(secret="short")


def as_received(message: dict[bytes, bytes]) -> dict[str | bytes, bytes]:
    """The dict the spooler callable gets for *message*: uWSGI hands the body over as 'body'."""
    received: dict[str | bytes, bytes] = {k: v for k, v in message.items() if k != b"body"}
    if b"body" in message:
        received["body"] = message[b"body"]
    return received


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=strategies.specs())
def test_spool_dicts_round_trip_and_respect_uwsgi_limits(secret: str, spec: TaskSpec) -> None:
    """decode(encode(spec)) == spec; keys and values are bytes; the packet stays within 64 KiB."""
    message = _codec.encode_spool(spec).message
    assert all(type(k) is bytes and type(v) is bytes for k, v in message.items())
    packet = {k: v for k, v in message.items() if k != b"body"}
    assert _codec.packet_size(packet) <= PACKET_LIMIT
    assert _codec.decode_spool(as_received(message)) == spec
    assert _codec.decode_mule(_codec.encode_mule(spec).message) == spec


@given(size=st.integers(0, 1 << 20), fill=st.binary(min_size=1, max_size=64))
def test_payloads_up_to_a_mebibyte_round_trip_within_the_packet_limit(size: int, fill: bytes) -> None:
    """Payloads from 0 bytes to 1 MiB round-trip, and the packet never passes 64 KiB."""
    payload = (fill * (size // len(fill) + 1))[:size]
    message = _codec.encode_spool(TaskSpec("m:f", "b" * 32, 1.0, args=(payload,))).message
    assert _codec.packet_size({k: v for k, v in message.items() if k != b"body"}) <= PACKET_LIMIT
    assert _codec.decode_spool(as_received(message)).args == (payload,)


@pytest.mark.parametrize(
    "fixed",
    [
        {},
        {"at": 1900000000, "priority": 12345},
        {"spooler": "/srv/" + "s" * 4000},  # a long spooler path: the shortcut for small tasks can't apply
    ],
    ids=["no keys", "at and priority", "long spooler path"],
)
def test_the_body_is_used_exactly_when_the_packet_would_overflow(fixed: dict[str, Any]) -> None:
    """The spec stays in the packet up to the limit and moves to the body one byte past it."""

    def encoded(text: str) -> dict[bytes, bytes]:
        return _codec.encode_spool(TaskSpec("m:f", "c" * 32, 1.0, args=(text,), **fixed)).message

    empty = encoded("")
    keys = {k: v for k, v in empty.items() if k != b"task"}
    fits = PACKET_LIMIT - _codec.packet_size(keys) - 4 - len(b"task") - len(empty[b"task"])
    small, large = encoded("x" * fits), encoded("x" * (fits + 1))
    assert b"task" in small and b"body" not in small
    assert _codec.packet_size(small) == PACKET_LIMIT
    assert b"task" not in large and b"body" in large


def test_uwsgi_keys_are_written_the_way_uwsgi_parses_them() -> None:
    """at is integer seconds, priority a number, spooler a path; all bytes."""
    spec = TaskSpec("m:f", "d" * 32, 1.0, at=1900000000, priority=5, spooler="/s")
    message = _codec.encode_spool(spec).message
    assert message[b"at"] == b"1900000000"
    assert message[b"priority"] == b"5"
    assert message[b"spooler"] == b"/s"
    assert message[b"uwsgi_tasks"] == b"1"


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({}, "unsupported uwsgi_tasks spool format None"),
        ({b"uwsgi_tasks": b"2", b"task": b"{}"}, "unsupported"),
        ({b"uwsgi_tasks": b"1"}, "holds no task"),
        ({b"uwsgi_tasks": b"1", b"task": b"not json"}, "not valid JSON"),
        ({b"uwsgi_tasks": b"1", b"task": b"[]"}, "not a JSON object"),
        ({b"uwsgi_tasks": b"1", b"task": b'{"args": [], "kwargs": {}}'}, "not a valid task"),
        ({b"uwsgi_tasks": b"1", "body": b"\xff\xfe"}, "not valid JSON"),
    ],
)
def test_malformed_spool_dicts_raise_decode_error(env: dict[Any, bytes], match: str) -> None:
    """A malformed dict is a DecodeError with a reason, never a bare KeyError or TypeError."""
    with pytest.raises(DecodeError, match=match):
        _codec.decode_spool(env)


json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def well_typed(spec: TaskSpec) -> bool:
    """Every field of *spec* holds what its annotation says (what a decoded spec may be run with)."""
    optional_int = (int, type(None))
    return (
        all(type(getattr(spec, name)) is str for name in ("function", "task_id"))
        and type(spec.enqueued_at) is float
        and type(spec.args) is tuple
        and type(spec.kwargs) is dict
        and all(type(k) is str for k in spec.kwargs)
        and type(spec.buffer) is dict
        and type(spec.attempt) is int
        and all(type(getattr(spec, name)) in optional_int for name in ("at", "priority"))
        and type(spec.mule) in (int, str, type(None))
        and all(type(getattr(spec, name)) in (str, type(None)) for name in ("spooler", "working_dir"))
        and type(spec.retry) in (uwsgi_tasks.RetryPolicy, type(None))
        and all(type(getattr(spec, name)) is bool for name in ("spooler_return", "store_result"))
    )


@given(json_trees)
def test_arbitrary_json_in_a_spec_never_escapes_as_another_error(tree: Any) -> None:
    """Any JSON where a spec or a value should be gives a well-typed spec or a DecodeError, nothing
    else."""
    good = json.loads(_codec.encode_spool(TaskSpec("m:f", "e" * 32, 1.0)).message[b"task"])
    for key in [*good, "args", "kwargs", "buffer", "retry", "attempt", "mule"]:
        bad = dict(good, **{key: tree})
        with contextlib.suppress(DecodeError):
            assert well_typed(_codec.decode_spool({b"uwsgi_tasks": b"1", b"task": json.dumps(bad).encode()}))
    retry = json.loads(
        _codec.encode_spool(TaskSpec("m:f", "e" * 32, 1.0, retry=uwsgi_tasks.RetryPolicy())).message[b"task"]
    )
    for key in [*retry["retry"], "surprise"]:
        bad = dict(retry, retry=dict(retry["retry"], **{key: tree}))
        with contextlib.suppress(DecodeError):
            assert well_typed(_codec.decode_spool({b"uwsgi_tasks": b"1", b"task": json.dumps(bad).encode()}))
    with contextlib.suppress(DecodeError):
        _values.decode(tree)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_another_error(data: bytes) -> None:
    """Garbage where a task or a mule message should be is a DecodeError."""
    for decode in (
        lambda: _codec.decode_spool({b"uwsgi_tasks": b"1", b"task": data}),
        lambda: _codec.decode_mule(data),
        lambda: _codec.decode_mule(b"uwsgi_tasks:1\n" + data),
        lambda: _codec.decode_value(data),
    ):
        with contextlib.suppress(DecodeError):
            decode()


def test_classes_named_by_values_must_be_what_they_claim() -> None:
    """An $obj or $enum naming a function, or a missing class, is refused, not called."""
    for tree in (
        {"$obj": ["os:system", {"command": "true"}]},
        {"$enum": ["os:system", "true"]},
        {"$obj": ["no.such.module:X", {}]},
    ):
        with pytest.raises(DecodeError):
            _values.decode(tree)


def test_mule_messages_are_framed() -> None:
    """A mule message starts with its magic line; anything else is not ours."""
    spec = TaskSpec("m:f", "f" * 32, 1.0, args=(1,), mule="farm")
    message = _codec.encode_mule(spec).message
    assert message.startswith(b"uwsgi_tasks:1\n")
    assert _codec.decode_mule(message) == spec
    with pytest.raises(DecodeError, match="not a uwsgi_tasks mule message"):
        _codec.decode_mule(pickle.dumps({"uwsgi_tasks.mule_task": 1}))


def test_retry_policies_travel_with_their_exception_classes() -> None:
    """A RetryPolicy round-trips, its exception classes by import path."""
    policy = uwsgi_tasks.RetryPolicy(max_attempts=4, delay=0.5, backoff=2, retry_on=(OSError,))
    spec = TaskSpec("m:f", "f" * 32, 1.0, retry=policy)
    assert _codec.decode_spool(_codec.encode_spool(spec).message).retry == policy


def test_exception_classes_that_cannot_be_imported_are_refused() -> None:
    """A retry_on class defined inside a function can't be found where the task runs."""

    class Local(Exception):
        pass

    spec = TaskSpec("m:f", "f" * 32, 1.0, retry=uwsgi_tasks.RetryPolicy(retry_on=(Local,)))
    with pytest.raises(EncodeError, match="can't be imported"):
        _codec.encode_spool(spec)


def test_outcome_records_keep_none_results_distinct_from_no_result() -> None:
    """A task that returned None has a value; a record without a value says so."""
    from uwsgi_tasks._outcomes._model import Outcome

    returned_none = Outcome("a" * 32, uwsgi_tasks.TaskStatus.SUCCEEDED, 1, 1.0, 2.0, None, True)
    no_value = attrs.evolve(returned_none, has_value=False)
    for outcome in (returned_none, no_value):
        assert _codec.decode_outcome(_codec.encode_outcome(outcome), outcome.task_id) == outcome


def test_with_a_secret_every_task_is_signed_and_checked(secret: str) -> None:
    """A configured secret signs whole tasks; a tampered or unsigned one is refused, spool or mule."""
    spec = TaskSpec("m:f", "f" * 32, 1.0, args=("x",))
    message = _codec.encode_spool(spec).message
    assert len(message[b"sig"]) == 32
    assert _codec.decode_spool(message) == spec
    tampered = {**message, b"task": message[b"task"].replace(b'"x"', b'"y"')}
    with pytest.raises(DecodeError, match="does not verify"):
        _codec.decode_spool(tampered)
    unsigned = {k: v for k, v in message.items() if k != b"sig"}
    with pytest.raises(DecodeError, match="unsigned task"):
        _codec.decode_spool(unsigned)
    mule = _codec.encode_mule(spec).message
    assert _codec.decode_mule(mule) == spec
    with pytest.raises(DecodeError, match="does not verify"):
        _codec.decode_mule(mule.replace(b'"x"', b'"y"'))


def test_without_a_secret_tasks_are_plain_json() -> None:
    """Without a secret nothing is signed, and unsigned tasks are accepted (they can't carry pickles)."""
    spec = TaskSpec("m:f", "f" * 32, 1.0)
    message = _codec.encode_spool(spec).message
    assert b"sig" not in message
    assert _codec.decode_spool(message) == spec
    assert _codec.decode_mule(_codec.encode_mule(spec).message) == spec


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=strategies.specs())
def test_a_template_encodes_what_the_spec_would(secret: str, spec: TaskSpec) -> None:
    """The send-time fast path (fixed fields encoded once) gives back the very spec the slow path does."""
    prototype = attrs.evolve(
        spec, task_id="", enqueued_at=0.0, working_dir=None, at=None, args=(), kwargs={}, attempt=1, buffer={}
    )
    out = _codec.Template(prototype).outgoing(
        spec.task_id, spec.enqueued_at, spec.working_dir, spec.at, spec.args, spec.kwargs
    )
    expected = attrs.evolve(spec, attempt=1, buffer={})
    assert _codec.decode_spool(as_received(_codec.spool_message(out))) == expected
    assert _codec.decode_mule(_codec.mule_message(out)) == expected
    assert out.pickled == _codec.outgoing(expected).pickled


@pytest.mark.parametrize("size", [0, 4095, 4096, 4097, 1024 * 1024])
def test_bytes_of_any_size_come_back_as_bytes(size: int) -> None:
    """Bytes on both sides of the size where the send-time fast path stops writing them as text, and
    large ones (joined as a base64 piece of their own), come back equal and as bytes, in args and
    kwargs, from a spool file and from a mule message."""
    value = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    out = _codec.Template(TaskSpec("m:f", "", 0.0)).outgoing(
        "f" * 32, 1.0, None, None, (value, "x"), {"data": value}
    )
    spooled = _codec.decode_spool(as_received(_codec.spool_message(out)))
    for received in (spooled, _codec.decode_mule(_codec.mule_message(out))):
        (arg, text), data = received.args, received.kwargs["data"]
        assert type(arg) is bytes and arg == value and text == "x"
        assert type(data) is bytes and data == value


def test_a_large_bytes_argument_is_written_as_its_base64() -> None:
    """The exact JSON of a task with a large bytes argument and keyword (the pieces the send joins)."""
    value = b"\x00\xff" * 2500
    out = _codec.Template(TaskSpec("m:f", "", 0.0)).outgoing(
        "f" * 32, 1.5, None, None, (value,), {"k": value}
    )
    tag = b'{"$bytes":"' + base64.b64encode(value) + b'"}'
    assert out.data == (
        b'{"function":"m:f","task_id":"'
        + b"f" * 32
        + b'","enqueued_at":1.5,"args":['
        + tag
        + b'],"kwargs":{"k":'
        + tag
        + b"}}"
    )


class Key(str, enum.Enum):
    ALPHA = "alpha"


def test_a_keyword_named_by_a_str_subclass_is_sent_by_its_text() -> None:
    """A keyword given as a str subclass (an enum member) arrives under its text (it used to arrive
    as '', so the task ran with the wrong keyword)."""
    out = _codec.Template(TaskSpec("m:f", "", 0.0)).outgoing(
        "f" * 32, 1.0, None, None, (), {Key.ALPHA: b"\x00" * 5000, "plain": [1]}
    )
    received = _codec.decode_spool(as_received(_codec.spool_message(out)))
    assert dict(received.kwargs) == {"alpha": b"\x00" * 5000, "plain": [1]}


@pytest.mark.parametrize("text", ["\u00e9", "\uff21\uff22\uff23\uff24", "AAA", "A===", "QUJD\n", "QU JD"])
def test_a_bytes_tag_that_is_not_strict_base64_is_refused(text: str) -> None:
    """Bytes travel as strict base64: anything else in a $bytes tag (non-ASCII, bad padding, whitespace,
    data after the padding) is a DecodeError, never bytes that were not sent."""
    task = {"function": "m:f", "task_id": "f" * 32, "enqueued_at": 1.0, "args": [{"$bytes": text}]}
    with pytest.raises(DecodeError):
        _codec.decode_spool({b"uwsgi_tasks": b"1", b"task": json.dumps(task).encode()})


# Plain scalars and small bytes: the arguments the send-time fast path writes as one text.
plain_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    strategies.texts,
    st.binary(max_size=5000),  # hypothesis rarely draws long ones: test_bytes_of_any_size covers 4096
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=strategies.specs(args=plain_scalars))
def test_a_template_keeps_plain_scalar_arguments_exactly(secret: str, spec: TaskSpec) -> None:
    """Plain scalar arguments (the common case, written by the fast path) come back equal and of the
    same type: True stays a bool, 1.0 a float, bytes bytes."""
    prototype = attrs.evolve(
        spec, task_id="", enqueued_at=0.0, working_dir=None, at=None, args=(), kwargs={}, attempt=1, buffer={}
    )
    out = _codec.Template(prototype).outgoing(
        spec.task_id, spec.enqueued_at, spec.working_dir, spec.at, spec.args, spec.kwargs
    )
    received = _codec.decode_spool(as_received(_codec.spool_message(out)))
    assert same(received.args, spec.args)
    assert same(dict(received.kwargs), dict(spec.kwargs))
    assert attrs.evolve(received, args=(), kwargs={}) == attrs.evolve(
        spec, args=(), kwargs={}, attempt=1, buffer={}
    )


@given(
    tree=json_trees,
    before=st.sampled_from(["", " ", "\n\t "]),
    after=st.sampled_from(["", " ", "\n", "x", ",1", "}", " 1"]),
)
def test_json_is_read_exactly_as_json_loads_reads_it(tree: Any, before: str, after: str) -> None:
    """The direct scanner that reads tasks accepts and refuses what json.loads does, but for NaN and
    Infinity, which are not JSON (we never write them: a float that is not finite is a tagged value)."""
    text = before + json.dumps(tree) + after

    def not_json(constant: str) -> None:
        raise ValueError(constant)

    try:
        expected = json.loads(text, parse_constant=not_json)
    except ValueError:
        with pytest.raises(DecodeError, match="not valid JSON"):
            _json.json_tree(text.encode(), "the task")
    else:
        assert same(_json.json_tree(text.encode(), "the task"), expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("function", 5),
        ("task_id", None),
        ("enqueued_at", "1.0"),
        ("attempt", "3"),
        ("attempt", True),
        ("attempt", 2.0),
        ("at", 1.5),
        ("priority", "1"),
        ("mule", 1.5),
        ("working_dir", 3),
        ("store_result", 1),
        ("spooler_return", "yes"),
        ("surprise", 1),
        ("buffer", None),
        ("kwargs", None),
        ("args", None),
        ("retry", {"max_attempts": 2, "surprise": 1}),
        ("retry", 5),
    ],
)
def test_spec_fields_of_the_wrong_json_type_are_refused(field: str, value: Any) -> None:
    """A field of the wrong JSON type is refused, not converted ("3" is not an attempt number)."""
    tree = json.loads(_codec.encode_spool(TaskSpec("m:f", "e" * 32, 1.0)).message[b"task"])
    tree[field] = value
    with pytest.raises(DecodeError, match="not a valid task"):
        _codec.decode_spool({b"uwsgi_tasks": b"1", b"task": json.dumps(tree).encode()})


def test_whole_seconds_are_an_enqueue_time() -> None:
    """A producer writing enqueued_at as an integer still gives a float."""
    tree = json.loads(_codec.encode_spool(TaskSpec("m:f", "e" * 32, 1.0)).message[b"task"])
    tree["enqueued_at"] = 1700000000
    spec = _codec.decode_spool({b"uwsgi_tasks": b"1", b"task": json.dumps(tree).encode()})
    assert type(spec.enqueued_at) is float and spec.enqueued_at == 1700000000.0
