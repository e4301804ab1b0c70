"""Retry scenarios, including the 0.7.3 README's examples ported to Python 3."""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from typing_extensions import ParamSpec

from tests.integration.apps.itasks import record
from uwsgi_tasks import (
    SPOOL_OK,
    SPOOL_RETRY,
    Retry,
    RetryPolicy,
    RetryTaskException,
    TaskExecutor,
    TaskHandle,
    get_current_task,
    task,
)

logger = logging.getLogger(__name__)
P = ParamSpec("P")


@task(executor=TaskExecutor.SPOOLER, retry_count=3, retry_timeout=1)
def always_retry(name: str) -> int:
    record(name)
    return SPOOL_RETRY


@task(
    executor=TaskExecutor.SPOOLER,
    retry=RetryPolicy(max_attempts=4, delay=0.5, backoff=2, retry_on=(IOError,)),
)
def io_flaky(name: str, error: str) -> None:
    record(name)
    raise OSError("disk") if error == "io" else KeyError("key")


@task(retry=RetryPolicy(max_attempts=3, retry_on=(ValueError,)))
def mule_flaky(name: str) -> None:
    record(name)
    raise ValueError("again")


@task(retry=RetryPolicy(max_attempts=2, delay=1, retry_on=(ValueError,)))
def mule_flaky_later(name: str) -> None:
    record(name)
    raise ValueError("later")


# The 0.7.3 README's examples, ported to Python 3: print became logging, IOError is OSError, type
# annotations were added, a record() call lets the tests see each run, and the delays are shorter
# (the README's 5, 10, 10 and 20 seconds are 1, 1, 1 and 2 here) so the suite stays fast.


def task_wrapper(func: Callable[P, object]) -> Callable[P, int]:
    @wraps(func)  # required!
    def _inner(*args: P.args, **kwargs: P.kwargs) -> int:
        logger.info("Task started with parameters: %s %s", args, kwargs)
        try:
            func(*args, **kwargs)
        except Exception as ex:  # example
            logger.info("Exception is occurred %s, repeat the task", ex)
            return SPOOL_RETRY

        logger.info("Task ended %s", func)
        return SPOOL_OK

    return _inner


@task(executor=TaskExecutor.SPOOLER, retry_count=3, retry_timeout=1)
@task_wrapper
def spooler_task(text: str) -> None:
    record("spooler_task", text=text)
    raise Exception("Sorry, task failed!")


@task(executor=TaskExecutor.SPOOLER, retry_count=2)
def process_purchase(order_id: int) -> None:
    try:
        # make something with order id
        record("process_purchase", order_id=order_id)
        raise ConnectionError("payment gateway is down")
    except Exception:
        logging.exception("Something bad happened")
        # retry task in 10 seconds for the last time
        raise RetryTaskException(timeout=1) from None


def _removal_dir() -> Path:
    return Path(os.environ["UT_RESULTS"]) / "to-remove"


def select_file_for_removal(previous_selected_file: str | None) -> str | None:
    names = sorted(os.listdir(_removal_dir()))
    later = [n for n in names if previous_selected_file is None or n > previous_selected_file]
    return later[0] if later else None


def del_file(name: str) -> None:
    os.remove(_removal_dir() / name)


@task(executor=TaskExecutor.SPOOLER, at=datetime.timedelta(seconds=1))
def remove_files_sequentially(previous_selected_file: str | None = None) -> TaskHandle[Any] | None:
    # get current SpoolerTask object
    current_task = get_current_task()
    assert current_task is not None  # typed code needs this; it always holds inside a task

    selected_file = select_file_for_removal(previous_selected_file)

    # we should stop the task here
    if selected_file is None:
        logger.info("All files were removed")
        for filename, removed_at in current_task.buffer["results"].items():
            logger.info('File "%s" was removed at "%s"', filename, removed_at)
        for filename, error_message in current_task.buffer["errors"].items():
            logger.info('File "%s", error: "%s"', filename, error_message)
        record(
            "removal-done",
            results={k: v.isoformat() for k, v in current_task.buffer["results"].items()},
            errors=current_task.buffer["errors"],
        )
        return None

    record("removal-hop", selected=selected_file, at=current_task.at)
    try:
        logger.info('Removing the file "%s"', selected_file)
        # ... remove the file ...
        del_file(selected_file)
    except OSError as ex:
        logger.exception('Cannot delete file "%s"', selected_file)

        # let's try to remove this one more time later
        io_errors = current_task.buffer.setdefault("errors", {}).get(selected_file)
        if not io_errors:
            current_task.buffer["errors"][selected_file] = str(ex)
            current_task.at = datetime.timedelta(seconds=2)
            return current_task(previous_selected_file)

    # save datetime of removal
    current_task.buffer.setdefault("results", {})[selected_file] = datetime.datetime.now()

    # run in async mode
    return current_task(selected_file)


@task(executor=TaskExecutor.SPOOLER)
def asks_for_more(name: str) -> None:
    """0.7.3's RetryTaskException(count=3) on the first run: three runs in all from there."""
    record(name)
    current = get_current_task()
    assert current is not None
    raise RetryTaskException(count=3) if current.attempt == 1 else RetryTaskException()


@task(executor=TaskExecutor.SPOOLER)
def asks_again(name: str) -> None:
    """raise Retry(delay=..., max_attempts=...) on every run: that many runs in all."""
    record(name)
    raise Retry(delay=0, max_attempts=2)
