"""A task introspects like the function it wraps: name, qualname, module, doc, signature,
__wrapped__, so that inspect, doctest and IDEs in interpreter mode see the function."""

from __future__ import annotations

import doctest
import inspect

import pytest

from tests.unit.introspected import tasks
from uwsgi_tasks import CronTask, SignalTask, TimerTask


def test_a_task_has_the_functions_identity() -> None:
    task = tasks.send_email
    assert (task.__name__, task.__qualname__, task.__module__) == (
        "send_email",
        "send_email",
        "tests.unit.introspected.tasks",
    )
    assert task.__wrapped__ is task.fn
    assert task.__doc__ == task.fn.__doc__
    assert inspect.getmodule(task) is tasks
    # Calling a task sends it: the function's parameters, giving a handle.
    params = "(to: 'str', subject: 'str' = 'Hi', *, urgent: 'bool' = False)"
    assert str(inspect.signature(task)) == f"{params} -> 'TaskHandle[int]'"
    assert str(inspect.signature(inspect.unwrap(task))) == f"{params} -> 'int'"


def test_doctests_in_a_tasks_docstring_are_collected_and_run() -> None:
    """doctest (and pytest --doctest-modules) find a task's examples where it is defined."""
    found = doctest.DocTestFinder().find(tasks)
    assert [test.name for test in found if test.examples] == ["tests.unit.introspected.tasks.send_email"]
    assert doctest.testmod(tasks).attempted == 1


@pytest.mark.parametrize("handler", [tasks.every_minute, tasks.nightly, tasks.on_signal])
def test_timers_crons_and_signal_handlers_introspect_as_their_function(
    handler: TimerTask[None] | CronTask[None] | SignalTask[None],
) -> None:
    wrapped = handler.__wrapped__
    assert inspect.isfunction(wrapped) and wrapped is handler.fn
    assert (handler.__name__, handler.__module__) == (
        wrapped.__name__,
        "tests.unit.introspected.tasks",
    )
    assert handler.__doc__ == wrapped.__doc__


def test_inspect_tells_how_a_timer_cron_or_signal_handler_is_called() -> None:
    """Not the wrapped function's signature: calling a timer starts it, calling a handler runs it."""
    assert str(inspect.signature(tasks.every_minute)) == "() -> 'bool'"
    assert str(inspect.signature(tasks.nightly)) == "() -> 'bool'"
    assert str(inspect.signature(tasks.on_signal)) == "(signum: 'int | None' = None) -> 'None'"


def test_a_task_or_handler_is_not_decorated_again_as_a_task() -> None:
    """It would take the wrapped function's name and send itself for ever; a signal handler or timer
    may call a task, which it keeps as it is."""
    from uwsgi_tasks import signal, task

    with pytest.raises(TypeError, match="another task"):
        task(tasks.send_email)
    with pytest.raises(TypeError, match="another task"):
        task(tasks.on_signal)
    handler = signal()(tasks.send_email)  # type: ignore[arg-type] # a task takes a str, not the signum
    assert vars(handler)["fn"] is tasks.send_email  # the task itself: the handler sends it


def test_the_functions_own_attributes_never_replace_the_tasks() -> None:
    """Only the function's identity is copied, not its __dict__: attributes another decorator left on
    it (``config``, ``path``, ...) don't hide the task's own."""
    from uwsgi_tasks import task
    from uwsgi_tasks._options import TaskOptions

    def marked(n: int) -> int:
        return n

    marked.path = "os:system"  # type: ignore[attr-defined] # what another decorator might leave
    marked.config = None  # type: ignore[attr-defined]
    made = task(marked)
    assert made.path == f"{__name__}:{marked.__qualname__}"
    assert isinstance(made.config, TaskOptions)
    assert made.run(2) == 2


def test_spool_mule_and_run_tell_the_functions_parameters() -> None:
    """Bound to a task, each method reports the function's parameters with what it gives, where a
    bound ParamSpec method would show ``(*args: P.args, **kwargs: P.kwargs)``."""
    task = tasks.send_email
    params = "(to: 'str', subject: 'str' = 'Hi', *, urgent: 'bool' = False)"
    assert str(inspect.signature(task.spool)) == f"{params} -> 'TaskHandle[int]'"
    assert str(inspect.signature(task.mule)) == f"{params} -> 'TaskHandle[int]'"
    assert str(inspect.signature(task.run)) == f"{params} -> 'int'"
    assert str(inspect.signature(task.options(priority=1).spool)) == f"{params} -> 'TaskHandle[int]'"
    assert (task.spool.__name__, task.run.__doc__) == ("spool", type(task).run.__doc__)
    assert task.run("a@example.com,b@example.com") == 2  # and they still call the method


def test_help_documents_a_task_like_a_function() -> None:
    """pydoc (help(), IPython's ``?``) shows the task's signature and docstring; a task kept as a
    class attribute is still itself."""
    import pydoc

    text = pydoc.plain(pydoc.render_doc(tasks.send_email))
    assert (
        "send_email(to: 'str', subject: 'str' = 'Hi', *, urgent: 'bool' = False) -> 'TaskHandle[int]'" in text
    )
    assert "Send an email; the number of recipients." in text

    class Holder:
        send = tasks.send_email

    assert Holder.send is tasks.send_email and Holder().send is tasks.send_email
