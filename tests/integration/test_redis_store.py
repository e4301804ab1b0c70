"""RedisResultStore against a real Redis: what the file store promises, shared by every host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uwsgi_tasks
from tests.strategies import json_values, same, task_ids
from uwsgi_tasks import TaskStatus
from uwsgi_tasks._outcomes._model import ErrorInfo, Outcome
from uwsgi_tasks._outcomes._redis import RedisResultStore
from uwsgi_tasks._outcomes._where import at_location, location, shared, store_for

pytestmark = pytest.mark.integration


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisResultStore]:
    uwsgi_tasks.configure(result_store=redis_url)
    found = shared()
    assert isinstance(found, RedisResultStore)
    yield found
    uwsgi_tasks.configure(result_store=None)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    task_id=task_ids,
    status=st.sampled_from(TaskStatus),
    value=json_values,
    at=st.none() | st.integers(0, 2**40),
)
def test_records_round_trip_and_move_the_version(
    store: RedisResultStore, task_id: str, status: TaskStatus, value: object, at: int | None
) -> None:
    before = store.version()
    outcome = Outcome(task_id, status, 2, 1.0, 2.0, value=value, has_value=True, at=at)
    store.put(outcome)
    assert store.version() != before
    found = store.get(task_id)
    assert found is not None and same(found.value, value) and found.at == at and found.status is status


def test_discard_notes_and_payloads(store: RedisResultStore) -> None:
    """discard removes a record only if it is still the one given (the receiver may have written its
    own since); notes and payloads are kept and removed by id."""
    queued = Outcome("a" * 32, TaskStatus.QUEUED, 1, 1.0, 1.0)
    store.put(queued)
    store.discard(queued)
    assert store.get("a" * 32) is None
    store.put(queued)
    store.put(Outcome("a" * 32, TaskStatus.RUNNING, 1, 1.0, 1.0))
    store.discard(queued)
    found = store.get("a" * 32)
    assert found is not None and found.status is TaskStatus.RUNNING
    store.put_note("b" * 32, "django", b"note")
    assert store.get_note("b" * 32, "django") == b"note" and store.get_note("c" * 32, "django") is None
    store.put_payload("b" * 32, b"{...}", ttl=60)
    assert store.get_payload("b" * 32) == b"{...}"
    store.discard_payload("b" * 32)
    assert store.get_payload("b" * 32) is None
    with pytest.raises(ValueError, match="not a task id"):
        store.get("../etc")


def test_records_expire_with_the_result_ttl(store: RedisResultStore) -> None:
    """Redis expires records after result_ttl (whole seconds, at least one): no pruning to run."""
    uwsgi_tasks.configure(result_ttl=1)
    try:
        store.put(Outcome("d" * 32, TaskStatus.FAILED, 1, 1.0, 2.0, error=ErrorInfo("x.Y", "z")))
        assert store.get("d" * 32) is not None
        assert 0 < store._redis.ttl(f"uwsgi_tasks:result:{'d' * 32}") <= 1
    finally:
        uwsgi_tasks.configure(result_ttl=7 * 86400)


def test_the_shared_store_serves_every_directory_and_handles_name_it(
    store: RedisResultStore, tmp_path: object
) -> None:
    """With a shared store, every spool directory's outcomes go there; a handle that travels names it
    by URL, and only this process's own shared store is accepted from a handle."""
    assert store_for("/any/spool/dir") is store
    assert at_location(location(store)) is store
    assert at_location("redis://elsewhere:6379/0") is None
