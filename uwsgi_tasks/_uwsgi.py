"""The only module that imports `uwsgi`: a typed facade that is safe to call outside uWSGI.

Outside a uWSGI process (tests, scripts, a shell) `RUNNING` is False and every query answers "nothing
configured". The facade also hides the uWSGI 2.0 quirks (each verified with 2.0.31): `uwsgi.opt`
keeps only the last value of a repeated option, the
spooler API only exists when a spooler is configured, farm names must be bytes, and a mule id out of
range can crash the worker.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Final

try:
    import uwsgi
except ImportError:  # not running inside uWSGI
    RUNNING = False
else:
    RUNNING = True

# uWSGI's values (its Python plugin, 2.0.31); identical with or without a spooler configured.
SPOOL_OK: Final = -2
SPOOL_RETRY: Final = -1
SPOOL_IGNORE: Final = 0

#: How every spool file's name starts: uWSGI names its own ``uwsgi_spoolfile_on_<host>_<pid>_...``,
#: and its spooler runs no file named otherwise.
SPOOL_FILE_PREFIX: Final = "uwsgi_spoolfile_on_"

# A plain mule reads each message into a 64 KiB stack buffer and silently truncates the rest
# (uWSGI 2.0.31), whatever --mule-msg-size says.
MULE_MESSAGE_LIMIT: Final = 65536

#: What the spooler callable receives: the file's keys as bytes, plus the str keys
#: ``"spooler_task_name"`` (the file's base name, as bytes) and ``"body"``.
SpoolerEnv = dict[str | bytes, bytes]


def spooled_name(env: SpoolerEnv) -> str:
    """The name of the spool file the spooler callable was given: its base name, relative to the
    directory the spooler is in, unless ``--spooler-chdir`` moved it."""
    return os.fsdecode(env.get("spooler_task_name", b""))


SpoolerCallable = Callable[[SpoolerEnv], int]
MuleHook = Callable[[bytes], object]


# The configuration of an instance never changes while a process lives (a reload starts new
# processes), so what is derived from it is computed once: it is on the hot path of every send.
@functools.cache
def option(name: str) -> bytes | bool | None:
    """The value of uWSGI option *name*: bytes, True for a flag, None when not set."""
    if not RUNNING:
        return None
    value = uwsgi.opt.get(name)
    if value is None or value is True:
        return value
    return bytes(value)


@functools.cache
def flag(name: str) -> bool:
    """Whether the boolean uWSGI option *name* is on (``--name`` or ``name = true``)."""
    value = option(name)
    if isinstance(value, bytes):
        return value.strip().lower() not in (b"", b"0", b"false", b"no", b"off")
    return bool(value)


@functools.cache
def spooler_dirs() -> tuple[str, ...]:
    """Absolute paths of every spooler directory, local and external, in configuration order."""
    if not RUNNING or not hasattr(uwsgi, "spool"):
        return ()
    return tuple(os.fsdecode(d) for d in uwsgi.spoolers)


def has_spooler() -> bool:
    """Whether this instance can spool: a local spooler or a ``--spooler-external`` directory."""
    return bool(spooler_dirs())


def spooler_pids() -> list[int]:
    """Pids of the spooler processes of this instance (they change when one respawns); 0 stands for
    an external spooler."""
    if not spooler_dirs():
        return []
    return uwsgi.spooler_pids()


_FS_ENCODING: Final = sys.getfilesystemencoding()
_FS_ERRORS: Final = sys.getfilesystemencodeerrors()


def spool(message: Mapping[bytes, bytes]) -> str:
    """Write a spool file; returns its absolute path. uWSGI raises ValueError when it refuses."""
    path: bytes = uwsgi.spool(message)
    return path.decode(_FS_ENCODING, _FS_ERRORS)  # os.fsdecode, without its checks: bytes, always


# Signals a thread must still take itself: a fault is sent to the thread that caused it.
_FAULTS: Final = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL})


def leave_signals_to_the_main_thread() -> None:
    """Block asynchronous signals in the calling (helper) thread.

    A uWSGI spooler sleeps in epoll on its main thread, and SIGUSR1 wakes it only by interrupting that
    wait. The kernel may hand a process's signal to any thread that doesn't block it: run by a helper
    thread, the handler counts the wake-up but the spooler sleeps on, up to spooler-frequency.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - _FAULTS)


def i_am_the_spooler() -> bool:
    return RUNNING and hasattr(uwsgi, "i_am_the_spooler") and bool(uwsgi.i_am_the_spooler())


@functools.cache
def mule_count() -> int:
    """How many mules this instance has, as far as `uwsgi.opt` can tell.

    ``--mules N`` is exact. ``--mule=...`` can be repeated, but uWSGI keeps only the last one in
    `uwsgi.opt`, so a repeated ``--mule`` counts once.
    """
    mules = option("mules")
    count = int(mules) if isinstance(mules, bytes) and mules.isdigit() else 0
    return count + (1 if option("mule") is not None else 0)


@functools.cache
def mule_message_limit() -> int:
    """The largest mule message that arrives whole."""
    size = option("mule-msg-size")
    if isinstance(size, bytes) and size.isdigit():
        return min(MULE_MESSAGE_LIMIT, int(size))
    return MULE_MESSAGE_LIMIT


def mule_msg(payload: bytes, target: int | str) -> bool:
    """Send *payload* to mule *target* (0 = any mule, N = mule N, a str = a farm)."""
    return uwsgi.mule_msg(payload, os.fsencode(target) if isinstance(target, str) else target)


def mule_id() -> int:
    return uwsgi.mule_id() if RUNNING else 0


def worker_id() -> int:
    return uwsgi.worker_id() if RUNNING else 0


def masterpid() -> int:
    return uwsgi.masterpid() if RUNNING else 0


def installed_spooler() -> SpoolerCallable | None:
    return getattr(uwsgi, "spooler", None) if RUNNING else None


def install_spooler(callable_: SpoolerCallable) -> None:
    uwsgi.spooler = callable_


def installed_post_fork_hook() -> Callable[[], object] | None:
    return getattr(uwsgi, "post_fork_hook", None) if RUNNING else None


def install_post_fork_hook(hook: Callable[[], object]) -> None:
    uwsgi.post_fork_hook = hook


def installed_mule_hook() -> MuleHook | None:
    return getattr(uwsgi, "mule_msg_hook", None) if RUNNING else None


def install_mule_hook(hook: MuleHook) -> None:
    uwsgi.mule_msg_hook = hook


def i_am_the_master() -> bool:
    """Whether this is the master process (where signal handlers must be registered, before fork)."""
    return RUNNING and uwsgi.masterpid() == os.getpid()


def signal_registered(signum: int) -> bool:
    return RUNNING and bool(uwsgi.signal_registered(signum))


def register_signal(signum: int, target: str, handler: Callable[[int], object]) -> None:
    uwsgi.register_signal(signum, target, handler)


def raise_signal(signum: int) -> None:
    uwsgi.signal(signum)


def add_timer(signum: int, seconds: int, iterations: int | None) -> None:
    """A timer raising *signum* every *seconds*; a red-black timer when *iterations* is given."""
    if iterations is None:
        uwsgi.add_timer(signum, seconds)
    else:
        uwsgi.add_rb_timer(signum, seconds, iterations)


def add_cron(signum: int, minute: int, hour: int, day: int, month: int, weekday: int) -> None:
    uwsgi.add_cron(signum, minute, hour, day, month, weekday)
