"""Hypothesis strategies for property-testing your task arguments against the codec (needs hypothesis).

::

    from hypothesis import given
    from uwsgi_tasks.testing import check_call
    from uwsgi_tasks.testing.strategies import task_calls

    @given(task_calls(send_invoice))
    def test_send_invoice_arguments_travel(call):
        args, kwargs = call
        check_call(send_invoice, *args, **kwargs)

`values` draws everything the codec carries as JSON, without the pickle fallback.
"""

from __future__ import annotations

import inspect
import typing
from datetime import timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from .._task import Task

__all__ = ["hashables", "scalars", "task_calls", "texts", "timezones", "values"]

_fixed_offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
)
#: None (naive), UTC, fixed offsets and IANA zones.
timezones: st.SearchStrategy[Any] = st.none() | st.just(timezone.utc) | _fixed_offsets | st.timezones()

#: Every str Python can hold, lone surrogates included.
texts: st.SearchStrategy[str] = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)

#: The standard-library scalars the codec carries as JSON.
scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**13000, max_value=2**13100),
    st.floats(allow_nan=False),
    texts,
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.datetimes(timezones=timezones),
    st.dates(),
    st.times(timezones=st.none() | _fixed_offsets),
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.uuids(),
)

#: Values usable as dict keys and set members.
hashables: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), texts, st.binary(max_size=10), st.dates(), st.uuids()
)


def values(leaves: st.SearchStrategy[Any] = scalars) -> st.SearchStrategy[Any]:
    """Trees of *leaves*: lists, tuples, dicts (with any hashable keys, and keys that look like the
    codec's own tags), sets and frozensets."""
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(texts, inner, max_size=4),
            st.dictionaries(st.sampled_from(["$tuple", "$d", "$", "$pickle"]), inner, max_size=1),
            st.dictionaries(hashables, inner, max_size=4),
            st.frozensets(hashables, max_size=4),
            st.sets(hashables, max_size=4),
        ),
        max_leaves=12,
    )


def task_calls(
    task: Task[Any, Any], **strategies: st.SearchStrategy[Any]
) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    """``(args, kwargs)`` for calls of *task*, drawn from its parameters' annotations
    (``st.from_type``); *strategies* replace them by parameter name. Parameters with defaults are
    drawn or left out; ``*args`` and ``**kwargs`` are left empty."""
    hints = typing.get_type_hints(task.fn)
    positional: list[st.SearchStrategy[Any]] = []
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, parameter in inspect.signature(task.fn).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in strategies:
            strategy = strategies[name]
        else:
            strategy = st.from_type(hints[name]) if name in hints else values()
        if parameter.kind is parameter.POSITIONAL_ONLY:
            positional.append(strategy)
        elif parameter.default is parameter.empty:
            required[name] = strategy
        else:
            optional[name] = strategy
    unknown = strategies.keys() - inspect.signature(task.fn).parameters.keys()
    if unknown:
        raise TypeError(f"{task.path} has no parameter(s) {', '.join(sorted(unknown))}")
    return st.tuples(st.tuples(*positional), st.fixed_dictionaries(required, optional=optional))
