"""uwsgi_tasks.testing: the in-place mode, the codec checks, and the strategies users drive them with."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import uwsgi_tasks
from uwsgi_tasks import (
    EncodeError,
    RetryPolicy,
    RetryTaskException,
    TaskExecutor,
    TaskFailed,
    TaskStatus,
    task,
)
from uwsgi_tasks.testing import InPlace, check_call, first_difference, round_trip
from uwsgi_tasks.testing.strategies import task_calls, values

attempts: list[int] = []


@task(retry=RetryPolicy(max_attempts=3, delay=3600))
def flaky(fail_times: int) -> int:
    attempts.append(len(attempts) + 1)
    if len(attempts) <= fail_times:
        raise ConnectionError(f"attempt {len(attempts)}")
    return len(attempts)


@task(executor=TaskExecutor.SPOOLER, retry_count=2)
def asks_again() -> None:
    raise RetryTaskException(timeout=3600)


@task
def boom(message: str) -> None:
    raise KeyError(message)


@task
def sends_two(a: int) -> int:
    boom.spool("inner")
    return a


@dataclass(frozen=True)
class Invoice:
    number: int
    issued: date
    total: Decimal


@task
def send_invoice(invoice: Invoice, to: str, /, copies: int = 1, *, note: str | None = None) -> str:
    return f"{invoice.number} to {to}"


@task(executor=TaskExecutor.MULE)
def to_mule(data: bytes) -> int:
    return len(data)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    attempts.clear()


def test_in_place_retries_at_once_and_records_the_handles() -> None:
    """Retries run immediately, whatever their delay; every send is listed."""
    with InPlace() as in_place:
        handle = flaky.spool(2)
    assert handle.result() == 3 and attempts == [1, 2, 3]
    assert in_place.handles == [handle] and handle.executor is TaskExecutor.RUNTIME


def test_in_place_raises_the_function_exception_at_the_call() -> None:
    """A task that fails for good raises what it raised (after its retries), at the send."""
    with InPlace(), pytest.raises(ConnectionError, match="attempt 3"):
        flaky.spool(5)
    assert attempts == [1, 2, 3]
    with InPlace(), pytest.raises(TaskFailed, match="RetryTaskException"):
        asks_again.spool()  # its explicit retries ran out: no exception of its own to raise
    with InPlace(raise_failures=False):
        assert boom.spool("quiet").status is TaskStatus.FAILED


def test_in_place_covers_nested_sends_and_other_threads() -> None:
    """Tasks sent by tasks, or from another thread, run in place too; a nested failure propagates."""
    with InPlace() as in_place:
        with pytest.raises(KeyError, match="inner"):
            sends_two.spool(1)
        thread = threading.Thread(target=lambda: flaky.spool(0))
        thread.start()
        thread.join()
    # The outer send is listed too: it is recorded, then raises.
    assert [h.function for h in in_place.handles] == [boom.path, sends_two.path, flaky.path]


def test_in_place_ends_with_its_block() -> None:
    """Outside the block, the task's own failure is a FAILED handle again (the default in place)."""
    with InPlace():
        pass
    assert boom.spool("after").status is TaskStatus.FAILED


def test_round_trip_and_its_errors(secret: str) -> None:
    """round_trip gives the value a task receives; a value that would need a pickle without a
    secret raises EncodeError."""
    value = {"when": datetime(2026, 11, 27, tzinfo=timezone.utc), (1, 2): {b"x", b"y"}}
    assert round_trip(value) == value
    assert first_difference(value, round_trip(value)) is None


def test_round_trip_without_a_secret_refuses_pickles() -> None:
    with pytest.raises(EncodeError, match="secret"):
        round_trip(threading.Lock())


def test_check_call_says_which_arguments_need_a_pickle(secret: str) -> None:
    """JSON-friendly calls return (); a value only a pickle carries is named (with a secret), and
    is an EncodeError without one."""
    invoice = Invoice(1, date(2026, 1, 1), Decimal("9.90"))
    assert check_call(send_invoice, invoice, "ada@example.com", note="hi") == ()
    # cattrs would turn 1.5 into 1 for a field annotated int: the codec sends a pickle instead.
    wrong = Invoice(1.5, date(2026, 1, 1), Decimal("1"))  # type: ignore[arg-type] # on purpose
    assert check_call(send_invoice, wrong, "ada@example.com") == ("args[0]",)
    uwsgi_tasks.configure(secret=None)
    with pytest.raises(EncodeError, match=r"args\[0\] \(Invoice\)"):
        check_call(send_invoice, wrong, "ada@example.com")


def test_check_call_applies_the_mule_limit() -> None:
    """A MULE task's call is encoded as a mule message, with its size limit."""
    check_call(to_mule, b"x" * 1000)
    with pytest.raises(EncodeError, match="mule"):
        check_call(to_mule, b"x" * 70_000)


invoices = st.builds(Invoice, total=st.decimals(allow_nan=False, allow_infinity=False, places=2))


@given(task_calls(send_invoice, invoice=invoices))
def test_task_calls_draws_calls_the_codec_carries(call: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
    """The strategy follows the signature: positional-only parameters as args, the others as
    kwargs (optional ones sometimes), drawn from the annotations unless given; the calls travel
    unchanged."""
    args, kwargs = call
    assert len(args) == 2 and isinstance(args[0], Invoice) and isinstance(args[1], str)
    assert set(kwargs) <= {"copies", "note"}
    check_call(send_invoice, *args, **kwargs)


def test_task_calls_refuses_unknown_parameters() -> None:
    with pytest.raises(TypeError, match="no parameter"):
        task_calls(send_invoice, nope=st.none())


@given(values())
def test_values_travel_unchanged(value: Any) -> None:
    """Everything the public strategy draws crosses the codec as JSON, unchanged."""
    assert first_difference(value, round_trip(value)) is None


@pytest.mark.parametrize(
    ("sent", "received", "where"),
    [
        (1, True, "value (int became bool)"),
        ([1, 2], [1, 2, 3], "value (length 2 became 3)"),
        ({"a": [1.0]}, {"a": [1]}, "value['a'][0] (float became int)"),
        (
            Invoice(1, date(2026, 1, 1), Decimal(1)),
            Invoice(2, date(2026, 1, 1), Decimal(1)),
            "value.number (1 became 2)",
        ),
        (float("nan"), float("nan"), None),
    ],
)
def test_first_difference(sent: Any, received: Any, where: str | None) -> None:
    assert first_difference(sent, received) == where
