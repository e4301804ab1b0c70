"""Django tasks for the backend's tests (imported once Django is configured: @task validates then)."""

from __future__ import annotations

from typing import Any

from tests.django_support import task


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def echo(*args: Any, **kwargs: Any) -> list[Any]:
    return [args, kwargs]


@task
async def add_later(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
def whoami(context: Any) -> list[Any]:
    return [context.task_result.id, context.attempt]


@task
def fail(message: str) -> None:
    raise ValueError(message)


@task
def leave() -> None:
    raise SystemExit("leaving")


@task
def unserializable() -> object:
    return object()
