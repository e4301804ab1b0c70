"""Where uWSGI enters: `set_uwsgi_callbacks` installs the spooler callable, the mule hook and the
post-fork hook, which hand our spool files to `_spooler`, our messages to `_mule`, and start each
spooler's watchdog (`_wake`); everything else goes to whatever was installed before."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from .. import _codec, _config, _registry, _spooldir, _uwsgi, _wake
from . import _mule, _spooler

logger = logging.getLogger("uwsgi_tasks")

_previous_spooler: _uwsgi.SpoolerCallable | None = None
_previous_mule_hook: _uwsgi.MuleHook | None = None
_previous_post_fork_hook: Callable[[], object] | None = None


def spooler(env: _uwsgi.SpoolerEnv) -> int:
    """The `uwsgi.spooler` callable: runs our spool files, hands foreign ones to the previous one."""
    if _codec.is_spool_message(env) or _codec.is_legacy_spool_message(env):
        return _spooler.run_spooled(env)
    if _previous_spooler is not None:
        _wake.task_started()  # the watchdog counts it as run, like ours
        try:
            return _previous_spooler(env)
        finally:
            _wake.task_finished()
    _spooler.set_aside(_spooler.locate(env), "not a uwsgi_tasks task")
    return _uwsgi.SPOOL_RETRY  # moved away: SPOOL_OK would make uWSGI fail to unlink it and exit


def mule_hook(message: bytes) -> object:
    """The `uwsgi.mule_msg_hook`: runs our messages, hands foreign ones to the previous hook."""
    if _codec.is_mule_message(message) or _codec.is_legacy_mule_message(message):
        _mule.run_message(message)
        return None
    if _previous_mule_hook is not None:
        return _previous_mule_hook(message)
    logger.error("mule %d: ignored a %d-byte message: not a uwsgi_tasks task", _uwsgi.mule_id(), len(message))
    return None


def post_fork_hook() -> None:
    """The `uwsgi.post_fork_hook`: a new spooler starts its watchdog thread (see `_wake`)."""
    if _previous_post_fork_hook is not None:
        _previous_post_fork_hook()
    _wake.start_watchdog()


def set_uwsgi_callbacks() -> None:
    """Install the spooler callable and the mule hook. Idempotent; a no-op outside uWSGI.

    0.7.3 did this at import and told users to call it again from a module the spooler imports;
    both keep working. A callable or hook installed before by someone else is kept and handed the
    messages that are not ours. Call it in the master (at import, without ``lazy-apps``), so that
    spoolers and mules forked from it inherit it.
    """
    global _previous_spooler, _previous_mule_hook, _previous_post_fork_hook
    if not _uwsgi.RUNNING:
        return
    # Before anything is forked, so that every process inherits it: imports never come from a spool
    # directory, the shared store's client is already imported, and a broken secret stops the
    # application from loading (rather than each task failing later).
    _registry.pin_import_path()
    _config.import_store_client()
    _config.signing_keys()
    _wake.create_board()
    current = _uwsgi.installed_spooler()
    if current is not spooler:
        _previous_spooler = current
        _uwsgi.install_spooler(spooler)
    hook = _uwsgi.installed_mule_hook()
    if hook is not mule_hook:
        _previous_mule_hook = hook
        _uwsgi.install_mule_hook(mule_hook)
    after_fork = _uwsgi.installed_post_fork_hook()
    if after_fork is not post_fork_hook:
        _previous_post_fork_hook = after_fork
        _uwsgi.install_post_fork_hook(post_fork_hook)
    _wake.start_watchdog()  # imported in a spooler after its fork (lazy-apps with spooler-import)
    if _uwsgi.i_am_the_master():
        _warn_if_writable_by_others()


def _warn_if_writable_by_others() -> None:
    """Whoever can write a spool file chooses which task runs, with which arguments."""
    for directory in _uwsgi.spooler_dirs():
        try:
            paths = _spooldir.queue_dirs(directory)
            loose = [p for p in paths if os.stat(p).st_mode & 0o022]
        except OSError:
            continue
        for path in loose:
            logger.warning(
                "spool directory %s is writable by other users (mode %o): they can make the spooler "
                "run any of your tasks with any arguments; chmod go-w it",
                path,
                os.stat(path).st_mode & 0o777,
            )
