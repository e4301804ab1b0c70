"""`_retry.decide`: whether an attempt that raised runs again, and after how long, as a pure function
of the policy, the attempt number and what was raised."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import retry_policies
from uwsgi_tasks import Retry, RetryPolicy, RetryTaskException
from uwsgi_tasks._retry import Again, attempts_allowed, decide, seconds

policies = st.none() | retry_policies
attempts = st.integers(1, 40)
draws = st.floats(0, 1, exclude_max=True)
errors = st.sampled_from([ValueError("v"), KeyError("k"), RuntimeError("r"), KeyboardInterrupt()])
delays = st.none() | st.floats(0, 1e6) | st.builds(timedelta, seconds=st.integers(0, 10**6))
requests = st.one_of(
    st.builds(Retry, delay=delays, max_attempts=st.none() | st.integers(1, 50)),
    st.builds(
        RetryTaskException, count=st.none() | st.integers(0, 50), timeout=st.none() | st.integers(0, 10**6)
    ),
)


@given(policy=policies, attempt=attempts, raised=errors | requests, draw=draws)
def test_nothing_runs_past_the_attempts_allowed(
    policy: RetryPolicy | None, attempt: int, raised: BaseException, draw: float
) -> None:
    """An attempt at or past what is allowed stops; a retry carries the number allowed."""
    again = decide(policy, attempt, raised, random=lambda: draw)
    allowed = attempts_allowed(policy, attempt, raised)
    if attempt >= allowed:
        assert again is None
    if again is not None:
        assert again.policy.max_attempts == allowed > attempt
        assert again.delay >= 0


@given(policy=retry_policies, attempt=attempts, raised=errors, draw=draws)
def test_an_exception_retries_only_if_the_policy_retries_it(
    policy: RetryPolicy, attempt: int, raised: BaseException, draw: float
) -> None:
    """Any other exception retries exactly when the policy retries it and attempts remain, after the
    policy's own delay for that attempt (its jitter drawn from *random*)."""
    again = decide(policy, attempt, raised, random=lambda: draw)
    if policy.should_retry(raised) and attempt < policy.max_attempts:
        assert again == Again(policy.delay_for(attempt, random=lambda: draw), policy)
    else:
        assert again is None


@given(attempt=attempts, raised=errors)
def test_without_a_policy_an_exception_never_retries(attempt: int, raised: BaseException) -> None:
    assert decide(None, attempt, raised) is None


@given(policy=policies, attempt=attempts, request=requests, draw=draws)
def test_a_request_retries_whatever_the_policy_retries_with_its_own_delay(
    policy: RetryPolicy | None, attempt: int, request: Retry, draw: float
) -> None:
    """A `Retry` retries even when retry_on would not (from_legacy's policy retries no exception),
    while attempts remain; its delay, when it gives one, replaces the policy's."""
    again = decide(policy, attempt, request, random=lambda: draw)
    if attempt >= attempts_allowed(policy, attempt, request):
        assert again is None
        return
    assert again is not None
    if request.delay is not None:
        assert again.delay == max(seconds(request.delay), 0)
    elif policy is None:
        assert again.delay == 0
    else:
        assert again.delay == again.policy.delay_for(attempt, random=lambda: draw)
        if again.policy.max_delay == policy.max_delay:  # not capped: the policy's own delay
            assert again.delay == policy.delay_for(attempt, random=lambda: draw)


@given(attempt=attempts, count=st.integers(0, 50), max_attempts=st.integers(1, 50))
def test_what_a_request_says_about_attempts(attempt: int, count: int, max_attempts: int) -> None:
    """0.7.3's count is the runs left, this one included; max_attempts counts runs in all."""
    policy = RetryPolicy(max_attempts=7)
    assert attempts_allowed(policy, attempt, RetryTaskException(count=count)) == attempt - 1 + count
    assert attempts_allowed(policy, attempt, Retry(max_attempts=max_attempts)) == max_attempts
    assert attempts_allowed(policy, attempt, Retry()) == 7
    assert attempts_allowed(None, attempt, Retry()) == 1


def test_the_same_inputs_give_the_same_answer() -> None:
    policy = RetryPolicy(max_attempts=5, delay=2, backoff=3, jitter="full")
    answers = {decide(policy, 2, ValueError(), random=lambda: 0.25) for _ in range(3)}
    assert answers == {Again(1.5, policy)}


@given(
    policy=policies,
    attempt=attempts,
    raised=requests | st.builds(Retry, delay=st.sampled_from([-5.0, float("nan"), float("inf"), 1e300])),
    draw=draws,
)
def test_every_retry_can_be_scheduled(
    policy: RetryPolicy | None, attempt: int, raised: Retry, draw: float
) -> None:
    """Whatever a request asks (more attempts than a backoff can schedule, a delay that is negative,
    NaN or endless), a retry's delay is a number of seconds from now (an endless one is capped at the
    last schedulable second when the retry is written, see the next test)."""
    again = decide(policy, attempt, raised, random=lambda: draw)
    if again is not None:
        assert again.delay >= 0


def test_a_task_asking_for_more_attempts_than_its_backoff_schedules_is_retried() -> None:
    """A request past the policy's 100-year schedule is retried with capped delays (it once failed
    the whole attempt pipeline with the policy's ValueError)."""
    from uwsgi_tasks import get_current_task, task

    @task(retry=RetryPolicy(max_attempts=2, delay=1, backoff=2))
    def insists() -> int:
        current = get_current_task()
        assert current is not None
        if current.attempt < 40:
            raise Retry(max_attempts=40)
        return current.attempt

    assert insists.run() == 40


@pytest.mark.parametrize("delay", [150 * 366 * 86400.0, float("inf"), 1e300])
def test_a_long_requested_delay_is_scheduled_as_asked_or_at_the_last_second(delay: float) -> None:
    """A retry 150 years away is written as asked; one past year 9999 (or endless) at the last
    second a spool file can be scheduled for, instead of failing the attempt pipeline."""
    from uwsgi_tasks import get_current_task, task
    from uwsgi_tasks._run._attempt import execute
    from uwsgi_tasks._spec import LAST_SECOND, TaskSpec

    @task
    def later() -> None:
        current = get_current_task()
        assert current is not None
        raise Retry(delay=delay, max_attempts=2)

    before = time.time()
    ran = execute(TaskSpec(later.path, "a" * 32, before))
    assert ran.next_attempt is not None and ran.next_attempt.at is not None
    if before + delay > LAST_SECOND:
        assert ran.next_attempt.at == LAST_SECOND
    else:
        assert ran.next_attempt.at == pytest.approx(before + delay, abs=2)


def test_the_attempt_pipeline_asks_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether an attempt runs again is `decide`'s answer and nobody else's: with a decide that always
    says "again, at once", a task without a policy runs until it stops failing."""
    from uwsgi_tasks import _retry, get_current_task, task

    asked: list[tuple[int, str]] = []

    def always(policy: RetryPolicy | None, attempt: int, raised: BaseException, **_: object) -> Again:
        asked.append((attempt, type(raised).__name__))
        return Again(0.0, RetryPolicy(max_attempts=attempt + 1))

    monkeypatch.setattr(_retry, "decide", always)

    @task
    def flaky() -> int:
        current = get_current_task()
        assert current is not None
        if current.attempt < 3:
            raise ValueError("not yet")
        return current.attempt

    assert flaky.run() == 3
    assert asked == [(1, "ValueError"), (2, "ValueError")]
