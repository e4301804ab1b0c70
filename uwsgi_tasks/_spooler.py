"""The spooler executor: sending a task to a spool directory, and running it in the spooler."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import attrs

from . import _codec, _kick, _locks, _mule, _uwsgi, _waker
from ._exceptions import ConfigurationError, DecodeError, ExecutorUnavailable, SpoolError
from ._execute import Ran, execute
from ._handle import TaskHandle
from ._options import TaskExecutor
from ._outcome import ErrorInfo, Outcome, TaskStatus
from ._results import SharedStore, shared, state_dir, store_for
from ._spec import TaskSpec

logger = logging.getLogger("uwsgi_tasks")

SpoolerEnv = _uwsgi.SpoolerEnv


def directory_for(function: str, spooler: str | None, priority: int | None) -> str:
    """The spooler directory a task goes to, checked against this instance's configuration."""
    dirs = _uwsgi.spooler_dirs()
    if not dirs:
        raise ExecutorUnavailable(f"{function}: this uWSGI instance has no spooler (--spooler)")
    if priority is not None and not _uwsgi.flag("spooler-ordered"):
        raise ConfigurationError(
            f"{function}: priority= needs --spooler-ordered; without it uWSGI never runs "
            "prioritised tasks (it does not scan the priority directories)"
        )
    if spooler is None:
        return dirs[0]
    wanted = os.path.realpath(spooler)
    if wanted not in dirs:
        raise ConfigurationError(
            f"{function}: spooler={spooler!r} is not a spooler of this instance; "
            f"its spoolers are {', '.join(dirs)}"
        )
    return wanted


def send(spec: TaskSpec) -> TaskHandle[Any]:
    """Write *spec* as a spool file (a retry, a re-dispatch); see `spool`."""
    directory = directory_for(spec.function, spec.spooler, spec.priority)
    if spec.spooler is not None:
        spec = attrs.evolve(spec, spooler=directory)
    return spool(_codec.outgoing(spec), directory)


def spool(out: _codec.Outgoing, directory: str) -> TaskHandle[Any]:
    """Write *out* as a spool file of *directory* and wake a busy spooler; the handle knows the file."""
    try:
        path = _uwsgi.spool(_codec.spool_message(out))
    except ValueError as e:
        raise SpoolError(f"uWSGI refused to spool task {out.task_id} ({out.function}): {e}") from e
    _kick.after_spool(directory)
    if out.at is not None:
        _waker.note_due(directory, out.at)
    if out.pickled:
        logger.debug("task %s (%s): pickled %s", out.task_id, out.function, ", ".join(out.pickled))
    return TaskHandle._sent(out, TaskExecutor.SPOOLER, store_for(directory), path)


def spool_root(path: str) -> str:
    """The spooler directory a spool file belongs to (files with a priority sit one level down)."""
    parent = os.path.dirname(path)
    dirs = _uwsgi.spooler_dirs()
    if parent not in dirs and os.path.basename(parent).isdigit():
        grandparent = os.path.dirname(parent)
        if grandparent in dirs:
            return grandparent
    return parent


def locate(env: SpoolerEnv) -> str:
    """The absolute path of the file the spooler is running.

    uWSGI passes the base name, relative to the directory it chdir'ed into, unless
    ``--spooler-chdir`` moved it; then the spool directories are searched.
    """
    name = os.fsdecode(env.get("spooler_task_name", b""))
    if not _uwsgi.option("spooler-chdir") and name[:1] != "/":
        # The spooler runs tasks from the file's own directory. Without spooler-ordered that is
        # always its one spool directory (uWSGI never enters the priority directories then, and
        # gives each spooler process one directory), so it is read once.
        if _uwsgi.flag("spooler-ordered"):
            return f"{os.getcwd()}/{name}"
        return f"{_home()}/{name}"
    if os.path.isabs(name):
        return name
    if os.path.exists(name):
        return os.path.abspath(name)
    for directory in _uwsgi.spooler_dirs():
        candidates = [directory] + [os.path.join(directory, d) for d in os.listdir(directory) if d.isdigit()]
        for candidate in candidates:
            path = os.path.join(candidate, name)
            if os.path.exists(path):
                return path
    return os.path.abspath(name)


_here: str | None = None


def _home() -> str:
    """This spooler's directory: where it is at its first task, before any task moves it."""
    global _here
    if _here is None:
        _here = os.getcwd()
    return _here


def set_aside(path: str, reason: str, task_id: str | None = None) -> str | None:
    """Move a spool file out of the spooler's way, with the reason beside it; the new path."""
    directory = os.path.join(state_dir(spool_root(path)), "set_aside")
    try:
        os.makedirs(directory, mode=0o750, exist_ok=True)
        target = os.path.join(directory, os.path.basename(path))
        # The reason first, whole: whoever sees the set-aside file can read why.
        note = {"reason": reason, "task_id": task_id, "set_aside_at": time.time(), "from": path}
        with open(f"{target}.reason.json.tmp", "w", encoding="utf-8") as f:
            json.dump(note, f)
        os.replace(f"{target}.reason.json.tmp", f"{target}.reason.json")
        os.rename(path, target)
    except OSError as e:
        logger.error("can't set spool file %s aside (%s): %s", path, reason, e)
        return None
    logger.error("spool file %s set aside to %s: %s", path, target, reason)
    return target


def _record(path: str, outcome: Outcome) -> None:
    try:
        store_for(spool_root(path)).put(outcome)
    except Exception:
        logger.exception("task %s: can't record its outcome", outcome.task_id)


def _retry(path: str, spec: TaskSpec, ran: Ran) -> int:
    """Write the next attempt, then let uWSGI delete this file: a crash between the two steps
    leaves both files (the task may run twice), never neither."""
    assert ran.next_attempt is not None
    try:
        handle = send(ran.next_attempt)
    except Exception as e:
        failed = attrs.evolve(ran.outcome, status=TaskStatus.FAILED, error=ErrorInfo.from_exception(e))
        _record(path, failed)
        set_aside(path, f"could not write the retry of attempt {spec.attempt}: {e!r}", spec.task_id)
        return _uwsgi.SPOOL_RETRY  # the file was moved; SPOOL_OK would make uWSGI fail to unlink it
    _record(path, attrs.evolve(ran.outcome, next_spool_file=handle.spool_file))
    return _uwsgi.SPOOL_OK


def _record_undecodable(path: str, env: SpoolerEnv, error: DecodeError) -> None:
    """A FAILED outcome for a task whose values couldn't be read, if its id can still be read."""
    try:
        task_id = _codec.spec_tree(env).get("task_id")
        attempt = int(_codec.spec_tree(env).get("attempt", 1))
    except (DecodeError, TypeError, ValueError):
        return
    if isinstance(task_id, str) and task_id.isalnum() and task_id.isascii():
        before = store_for(spool_root(path)).get(task_id)
        if before is not None and before.status.done:
            return  # e.g. a duplicate of a task that already ran: its outcome stands
        now = time.time()
        _record(
            path,
            Outcome(task_id, TaskStatus.FAILED, attempt, now, now, error=ErrorInfo.from_exception(error)),
        )


def _hand_to_mule(path: str, spec: TaskSpec) -> int:
    """A mule task's delayed retry, kept here until due: now it goes back to a mule."""
    try:
        _mule.send(attrs.evolve(spec, at=None))
    except Exception as e:
        set_aside(path, f"could not hand the retry back to mule {spec.mule!r}: {e!r}", spec.task_id)
        return _uwsgi.SPOOL_RETRY
    return _uwsgi.SPOOL_OK


def run_spooled(env: SpoolerEnv) -> int:
    """Run one of our spool files; the return code tells uWSGI whether to delete it."""
    # uWSGI counts this spooler as busy until we return (it doesn't wake a busy spooler): say so on
    # the board from the first to the last moment, so producers kick it instead.
    _kick.task_started()
    path, code = None, _uwsgi.SPOOL_RETRY
    try:
        path = locate(env)
        if not _kick.watching():
            _kick.watch(spool_root(path))
        code = _run(path, env)
        return code
    finally:
        kept = code != _uwsgi.SPOOL_OK and (path is None or os.path.exists(path))
        _kick.task_finished(kept=kept)


def _run(path: str, env: SpoolerEnv) -> int:
    store = shared()
    try:
        if _codec.is_legacy_spool_message(env):
            spec = _codec.decode_legacy_spool(env)
        else:
            spec = _codec.decode_spool(env, store.get_payload if store is not None else None)
    except DecodeError as e:
        _record_undecodable(path, env, e)  # before the move: whoever sees it moved finds the outcome
        set_aside(path, f"undecodable: {e}")
        return _uwsgi.SPOOL_RETRY  # moved away: there is nothing left for uWSGI to delete or retry
    except Exception as e:  # the shared store is down: keep the file, uWSGI tries again at a scan
        logger.error("spool file %s: can't fetch the task it refers to (kept, to try again): %r", path, e)
        return _uwsgi.SPOOL_RETRY
    # Sent from another host without uWSGI's "at", which that host can't note as due here.
    early = b"at" not in env and spec.at is not None and spec.at > time.time()
    code = _respool(path, spec) if early else _run_spec(path, spec, store)
    if code == _uwsgi.SPOOL_OK and store is not None and _codec.REF_KEY in env:
        # Done with, or now in a spool file of its own here. (A task set aside keeps its payload until
        # it expires, so that it can be requeued.)
        try:
            store.discard_payload(spec.task_id)
        except Exception as e:  # never make uWSGI keep (and rerun) a task that ran for this
            logger.error("task %s: can't remove its payload from the shared store: %r", spec.task_id, e)
    return code


def _run_spec(path: str, spec: TaskSpec, store: SharedStore | None) -> int:
    if spec.mule is not None:
        return _hand_to_mule(path, spec)
    if store is not None and spec.store_result:
        started = time.time()  # hosts that can't see the file's lock see this instead
        _record(path, Outcome(spec.task_id, TaskStatus.RUNNING, spec.attempt, started, started))
    _locks.running_here = path
    try:
        ran = execute(spec, come_back=False)
    finally:
        _locks.running_here = None
    if ran.task_missing:
        _record(path, ran.outcome)
        set_aside(path, str(ran.error), spec.task_id)
        return _uwsgi.SPOOL_RETRY
    if ran.next_attempt is not None:
        return _retry(path, spec, ran)
    if ran.exit_code is not None:
        if ran.exit_code == _uwsgi.SPOOL_OK and spec.store_result:
            _record(path, ran.outcome)
        return ran.exit_code
    if spec.store_result or ran.outcome.status is not TaskStatus.SUCCEEDED:
        _record(path, ran.outcome.for_store(spec.store_result))
    if ran.outcome.status is TaskStatus.FAILED and ran.outcome.error is not None:
        # Kept as a dead letter, so that it can be looked at and requeued.
        error = ran.outcome.error
        set_aside(path, f"failed on attempt {spec.attempt}: {error.type_path}: {error.message}", spec.task_id)
        return _uwsgi.SPOOL_RETRY  # moved away: SPOOL_OK would make uWSGI fail to unlink it
    return _uwsgi.SPOOL_OK


def _respool(path: str, spec: TaskSpec) -> int:
    """Spool a task that is not due yet again here, where the waker starts it on time (uWSGI alone
    would start it at a scan, up to spooler-frequency late)."""
    try:
        send(spec)
    except Exception as e:
        now = time.time()
        _record(
            path,
            Outcome(
                spec.task_id, TaskStatus.FAILED, spec.attempt, now, now, error=ErrorInfo.from_exception(e)
            ),
        )
        set_aside(path, f"could not spool it here until it is due: {e!r}", spec.task_id)
        return _uwsgi.SPOOL_RETRY
    return _uwsgi.SPOOL_OK
