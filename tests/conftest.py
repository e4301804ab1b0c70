"""Shared test configuration: hypothesis profiles, a clean configuration per test, no empty runs."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import uwsgi_tasks
from uwsgi_tasks._config import SECRET_ENV

# A codec example can carry a megabyte; wall-clock deadlines only make that flaky.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fast", parent=settings.get_profile("default"), max_examples=10)
settings.load_profile("fast" if os.environ.get("FAST") else "default")

pytest_plugins = ["pytester"]

TEST_SECRET = "test-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts without a secret; tests that pickle ask for `secret`."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    uwsgi_tasks.configure(secret=None, old_secrets=())
    yield
    uwsgi_tasks.configure(secret=None, old_secrets=())


@pytest.fixture
def secret() -> str:
    """Configure the test secret, so the pickle fallback is allowed."""
    uwsgi_tasks.configure(secret=TEST_SECRET)
    return TEST_SECRET


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # pytest exits 5 when it collected nothing: in CI that is a broken selection, never a pass,
    # and it must fail with a message saying so rather than with an unexplained 5.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.config.get_terminal_writer().line(
            "uwsgi_tasks: no tests ran; the selection or the test paths are wrong", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
