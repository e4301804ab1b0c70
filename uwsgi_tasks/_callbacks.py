"""set_uwsgi_callbacks(): the spooler callable and the mule hook uWSGI calls."""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import _codec, _kick, _mule, _spooler, _uwsgi, _waker

logger = logging.getLogger("uwsgi_tasks")

_previous_spooler: _uwsgi.SpoolerCallable | None = None
_previous_mule_hook: _uwsgi.MuleHook | None = None
_previous_post_fork_hook: Callable[[], object] | None = None

LEGACY_HELP = (
    "it was written by uwsgi_tasks 0.7.3 (pickled function_name/args/setup); this version does not "
    "unpickle files it did not sign"
)


def spooler(env: _uwsgi.SpoolerEnv) -> int:
    """The `uwsgi.spooler` callable: runs our spool files, hands foreign ones to the previous one."""
    if _codec.is_spool_message(env):
        return _spooler.run_spooled(env)
    if _previous_spooler is not None:
        return _previous_spooler(env)
    path = _spooler.locate(env)
    reason = LEGACY_HELP if _codec.is_legacy_spool_message(env) else "not a uwsgi_tasks task"
    _spooler.set_aside(path, reason)
    return _uwsgi.SPOOL_RETRY  # moved away: SPOOL_OK would make uWSGI fail to unlink it and exit


def mule_hook(message: bytes) -> object:
    """The `uwsgi.mule_msg_hook`: runs our messages, hands foreign ones to the previous hook."""
    if _codec.is_mule_message(message):
        _mule.run_message(message)
        return None
    if _previous_mule_hook is not None:
        return _previous_mule_hook(message)
    legacy = message[:1] == b"\x80" and b"uwsgi_tasks.tasks" in message[:200]
    logger.error(
        "mule %d: ignored a %d-byte message: %s",
        _uwsgi.mule_id(),
        len(message),
        LEGACY_HELP if legacy else "not a uwsgi_tasks task",
    )
    return None


def post_fork_hook() -> None:
    """The `uwsgi.post_fork_hook`: a new spooler starts its wake-up thread (see `_waker`)."""
    if _previous_post_fork_hook is not None:
        _previous_post_fork_hook()
    _waker.start()


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
    _kick.create_board()
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
    _waker.start()  # imported in a spooler after its fork (lazy-apps with spooler-import)
