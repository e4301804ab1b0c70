"""Running a spool file in the spooler: decode and verify it, refuse what must not run (misplaced,
already ran, its process kept dying), note its start, run the attempt, and tell uWSGI what to do with
the file once the outcome is recorded (delete it, keep it to try again, or set it aside)."""

from __future__ import annotations

import logging
import os
import time

import attrs

from .. import _codec, _config, _locks, _registry, _retry, _spooldir, _uwsgi, _wake
from .._exceptions import DecodeError, ProcessDied, TaskNotFound
from .._outcomes import _writer
from .._outcomes._model import ErrorInfo, Outcome, TaskStatus
from .._outcomes._store import SharedStore
from .._outcomes._where import shared, store_for
from .._send._again import send_spec
from .._spec import TaskSpec
from .._spooldir import spool_root
from . import _starts
from ._attempt import Ran, execute

logger = logging.getLogger("uwsgi_tasks")

SpoolerEnv = _uwsgi.SpoolerEnv


def locate(env: SpoolerEnv) -> str:
    """The absolute path of the file the spooler is running.

    uWSGI passes the base name, relative to the directory it chdir'ed into, unless
    ``--spooler-chdir`` moved it; then the spool directories are searched.
    """
    name = _uwsgi.spooled_name(env)
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
        for candidate in _spooldir.queue_dirs(directory):
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
    """Move a spool file out of the spooler's way (see `_spooldir.set_aside`)."""
    return _spooldir.set_aside(path, spool_root(path), reason, task_id)


def _record(path: str, outcome: Outcome, *, store_result: bool = True) -> bool:
    """Record *outcome* where *path*'s outcomes go; False when it can't be, and the caller keeps the
    file, so that the task runs again and its outcome is not lost."""
    return _writer.record(store_for(spool_root(path)), outcome, store_result=store_result)


def _spool_retry(path: str, spec: TaskSpec, ran: Ran) -> int:
    """Write the next attempt, then let uWSGI delete this file: a crash between the two steps
    leaves both files (a copy that already ran is then set aside, see `_already_ran`), never neither."""
    assert ran.next_attempt is not None
    try:
        handle = send_spec(ran.next_attempt)
    except Exception as e:  # a full disk, a spooler gone: this attempt's file stays, to run again
        logger.error("task %s: can't write its retry, kept to run again: %r", spec.task_id, e)
        return _uwsgi.SPOOL_RETRY
    # The next attempt is spooled: whether or not its RETRYING record is written, this file is done.
    _record(path, attrs.evolve(ran.outcome, next_spool_file=handle.spool_file))
    return _uwsgi.SPOOL_OK


class _Admission:
    """The `_codec.Admit` callback of one decode: finds the task, and remembers that it was called,
    which means the file verified (with a secret) before its values were read."""

    def __init__(self) -> None:
        self.verified = False

    def __call__(self, function: str) -> object:
        self.verified = True
        return _registry.resolve(function)


def _record_undecodable(path: str, env: SpoolerEnv, error: Exception, *, verified: bool) -> str | None:
    """A FAILED outcome for a task that can't run (its values can't be read, it names no task), if
    its id can be read and trusted; the id, for the set-aside note.

    Trusted means *verified* against the secret, or no secret at all (whoever can write spool files
    is trusted then). With a secret nothing read from a file that did not verify is ever written as
    an outcome: an unsigned file could otherwise fail another task by naming its id.
    """
    if not verified and _config.signing_keys():
        return None
    try:
        claimed = _codec.claimed_identity(env)
        if claimed is None:
            return None
        task_id, attempt = claimed
        before = store_for(spool_root(path)).get(task_id)
        if before is not None and before.status.done:
            return task_id  # e.g. a duplicate of a task that already ran: its outcome stands
        now = time.time()
        _record(
            path,
            Outcome(task_id, TaskStatus.FAILED, attempt, now, now, error=ErrorInfo.from_exception(error)),
        )
    except Exception:  # whatever a poisoned file makes us raise, it is set aside
        return None
    return task_id


def run_spooled(env: SpoolerEnv) -> int:
    """Run one of our spool files; the return code tells uWSGI whether to delete it."""
    # uWSGI counts this spooler as busy until we return (it doesn't wake a busy spooler): say so on
    # the board from the first to the last moment, so producers kick it instead.
    _wake.task_started()
    path, code = None, _uwsgi.SPOOL_RETRY
    try:
        path = locate(env)
        code = _run(path, env)
    except BaseException:  # nothing may end the spooler: the file is kept instead
        logger.exception("spool file %s: unexpected error, kept to try again", path)
        code = _uwsgi.SPOOL_RETRY
    finally:
        _wake.task_finished()
    return code


def _run(path: str, env: SpoolerEnv) -> int:
    _registry.pin_import_path()
    store = shared()
    admission = _Admission()
    try:
        if _codec.is_legacy_spool_message(env):
            spec = _codec.decode_legacy_spool(env)
        else:
            fetch = store.get_payload if store is not None else None
            spec = _codec.decode_spool(env, fetch, admission)
    except TaskNotFound as e:  # it verified (or there is no secret), and names no task we can run
        task_id = _record_undecodable(path, env, e, verified=admission.verified)
        set_aside(path, str(e), task_id)
        return _uwsgi.SPOOL_RETRY
    except DecodeError as e:
        # Before the move: whoever sees it moved finds the outcome.
        task_id = _record_undecodable(path, env, e, verified=admission.verified)
        set_aside(path, f"undecodable: {e}", task_id)
        return _uwsgi.SPOOL_RETRY  # moved away: there is nothing left for uWSGI to delete or retry
    except Exception as e:  # the shared store is down: keep the file, uWSGI tries again at a scan
        logger.error("spool file %s: can't fetch the task it refers to (kept, to try again): %r", path, e)
        return _uwsgi.SPOOL_RETRY
    root = spool_root(path)
    misplaced = _misplaced(path, root, spec)
    if misplaced is not None:
        set_aside(path, misplaced, spec.task_id)
        return _uwsgi.SPOOL_RETRY
    # Not due yet: sent from another host without uWSGI's "at", or a copy whose mtime was changed (the
    # signed "at" is the truth; uWSGI only looks at the mtime).
    early = spec.at is not None and spec.at > time.time()
    code = (
        _send_on(spec, "can't spool it here until it is due") if early else _run_spec(path, root, spec, store)
    )
    if code == _uwsgi.SPOOL_OK and store is not None and _codec.is_by_reference(env):
        # Done with, or now in a spool file of its own here. (A task set aside keeps its payload until
        # it expires, so that it can be requeued.)
        try:
            store.discard_payload(spec.task_id)
        except Exception as e:  # never make uWSGI keep (and rerun) a task that ran for this
            logger.error("task %s: can't remove its payload from the shared store: %r", spec.task_id, e)
    return code


def _already_ran(root: str, spec: TaskSpec, store: SharedStore | None) -> str | None:
    """Why this attempt of *spec* must not run, if it already ran: a copy of its spool file (a replay,
    or the file of an attempt whose retry was written before a crash), put back in any spool
    directory of this instance. Known for as long as its record (or silent-success marker) is kept:
    the result TTL. Raises whatever reading the store raises."""
    roots = [root, *(d for d in _uwsgi.spooler_dirs() if d != root)] if store is None else [root]
    for where in roots:
        before = store_for(where).get(spec.task_id)
        if before is not None and (
            before.status.done or (before.status is TaskStatus.RETRYING and before.attempts >= spec.attempt)
        ):
            return (
                f"already ran: task {spec.task_id} is {before.status.value} after attempt {before.attempts}"
            )
    if not spec.store_result:
        silently = (
            store.get_note(spec.task_id, _writer.SILENT_SUCCESS) is not None if store is not None else False
        )
        if silently or any(_starts.ran_silently(where, spec.task_id) for where in roots):
            return f"already ran: task {spec.task_id} succeeded (store_result=False)"
    return None


def _run_spec(path: str, root: str, spec: TaskSpec, store: SharedStore | None) -> int:
    try:
        replay = _already_ran(root, spec, store)
    except Exception as e:  # no way to know whether it ran: don't run it now
        logger.error("task %s: can't read its outcome, kept to try again: %r", spec.task_id, e)
        return _uwsgi.SPOOL_RETRY
    if replay is not None:
        set_aside(path, replay, spec.task_id)
        return _uwsgi.SPOOL_RETRY
    if spec.mule is not None:  # a mule task's delayed retry, kept here until due: back to a mule
        return _send_on(spec, f"can't hand its retry back to mule {spec.mule!r}")
    try:
        deaths, marker = _starts.begin(root, spec.task_id, spec.attempt)
    except _starts.Busy as e:  # a copy of this task is running now: once it ran, this one is a replay
        logger.warning("spool file %s: %s; kept for later", path, e)
        return _uwsgi.SPOOL_RETRY
    except OSError as e:  # this start can't be counted: don't run it now
        logger.error("task %s: can't note its start, kept to try again: %r", spec.task_id, e)
        return _uwsgi.SPOOL_RETRY
    silently = keep_marker = False
    try:
        if deaths:
            spent = _after_deaths(path, root, spec, deaths)
            if spent is not None:
                keep_marker = spent == _uwsgi.SPOOL_RETRY and os.path.exists(path)  # FAILED not recorded
                return spent
            spec = attrs.evolve(spec, attempt=spec.attempt + deaths)
        if store is not None:  # hosts that can't see the file's lock see this instead
            started = time.time()
            running = Outcome(spec.task_id, TaskStatus.RUNNING, spec.attempt, started, started)
            if not _record(path, running, store_result=spec.store_result):
                return _uwsgi.SPOOL_RETRY
        _locks.running_here = path
        try:
            ran = execute(spec, come_back=False)
        finally:
            _locks.running_here = None
        code = _finish(path, spec, ran)
        # Done, leaving no record: noted instead, so that a copy put back later is known as a replay.
        silently = code == _uwsgi.SPOOL_OK and _writer.kept(ran.outcome, spec.store_result) is None
        if silently and store is not None:
            _writer.note_silent_success(store, spec.task_id)
        return code
    finally:
        _starts.end(root, spec.task_id, marker, silently_done=silently, keep=keep_marker)


def _misplaced(path: str, root: str, spec: TaskSpec) -> str | None:
    """Why *spec* must not run from *path*: a file copied where it was not sent (another spool
    directory, a priority it was not given, a directory uWSGI scans that is no priority directory)."""
    here = os.path.dirname(path)
    priority = None if here == root else os.path.basename(here)
    if os.path.dirname(here) not in (root, os.path.dirname(root)) or (
        priority is not None and not _spooldir.is_priority_dir(priority)
    ):
        return f"not in a spool directory or one of its priority directories: {here}"
    if priority is not None and int(priority) != spec.priority:
        return f"found in priority directory {priority}, but it was sent with priority {spec.priority}"
    if priority is None and spec.priority is not None and _uwsgi.flag("spooler-ordered"):
        return f"it was sent with priority {spec.priority}, and found outside its priority directory"
    if spec.spooler is not None and os.path.realpath(spec.spooler) != os.path.realpath(root):
        return f"it was sent to spooler {spec.spooler}, and found in {root}"
    return None


def _after_deaths(path: str, root: str, spec: TaskSpec, deaths: int) -> int | None:
    """The process died inside *deaths* earlier starts of this attempt: each counts as an attempt.
    None to run it again; a return code once its attempts are spent (FAILED, set aside)."""
    attempt = spec.attempt + deaths
    allowed = _retry.attempts_after_deaths(spec.retry)
    if attempt <= allowed:
        logger.warning(
            "task %s (%s): its process died during %d earlier start(s); running it as attempt %d of %d",
            spec.task_id,
            spec.function,
            deaths,
            attempt,
            allowed,
        )
        return None
    now = time.time()
    died = ProcessDied(
        f"its process died {deaths} time(s) while running task {spec.task_id} ({spec.function}): "
        f"killed, out of memory, a crash or harakiri; its {allowed} attempt(s) are spent"
    )
    failed = Outcome(
        spec.task_id,
        TaskStatus.FAILED,
        attempt - 1,
        _starts.started_at(root, spec.task_id) or now,
        now,
        error=ErrorInfo.from_exception(died),
    )
    if not _record(path, failed):
        return _uwsgi.SPOOL_RETRY  # kept: tried again at a later scan
    set_aside(path, f"failed: {died}", spec.task_id)
    return _uwsgi.SPOOL_RETRY


def _finish(path: str, spec: TaskSpec, ran: Ran) -> int:
    """Record what *ran* came to and tell uWSGI what to do with the file: deleted once the outcome is
    recorded (or the next attempt spooled), kept when it can't be, set aside when the task failed."""
    if ran.task_missing:
        if not _record(path, ran.outcome):
            return _uwsgi.SPOOL_RETRY
        set_aside(path, str(ran.error), spec.task_id)
        return _uwsgi.SPOOL_RETRY
    if ran.next_attempt is not None:
        return _spool_retry(path, spec, ran)
    if ran.exit_code is not None:
        if ran.exit_code == _uwsgi.SPOOL_OK and not _record(
            path, ran.outcome, store_result=spec.store_result
        ):
            return _uwsgi.SPOOL_RETRY
        return ran.exit_code
    if not _record(path, ran.outcome, store_result=spec.store_result):
        return _uwsgi.SPOOL_RETRY
    if ran.outcome.status is TaskStatus.FAILED and ran.outcome.error is not None:
        # Kept as a dead letter, so that it can be looked at and requeued.
        error = ran.outcome.error
        set_aside(path, f"failed on attempt {spec.attempt}: {error.type_path}: {error.message}", spec.task_id)
        return _uwsgi.SPOOL_RETRY  # moved away (or kept, if it couldn't be): SPOOL_OK would unlink it
    return _uwsgi.SPOOL_OK


def _send_on(spec: TaskSpec, failure: str) -> int:
    """Send *spec* on (a mule task come due, a task not due yet spooled here with uWSGI's ``at``,
    where the watchdog starts it on time, see `_wake`); the file is done with once it is sent."""
    try:
        send_spec(spec)
    except Exception as e:  # a full disk or mule queue: kept, and offered again at the next scan
        logger.error("task %s: %s, kept: %r", spec.task_id, failure, e)
        return _uwsgi.SPOOL_RETRY
    return _uwsgi.SPOOL_OK
