"""Process-wide settings: the secrets that sign tasks and pickles, where outcomes are kept.

The environment variables don't start with ``UWSGI_``: uWSGI reads every ``UWSGI_<NAME>`` variable as
the option ``--<name>``, and ``strict`` refuses unknown ones, at start and at every reload (the master
re-executes itself with the environment uWSGI's ``env`` option added to).
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import attrs

from ._exceptions import ConfigurationError

SECRET_ENV: Final = "UWSGITASKS_SECRET"  # noqa: S105 -- the variable's name, not a secret
RESULT_STORE_ENV: Final = "UWSGITASKS_RESULT_STORE"


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET: Final = _Unset.UNSET


@attrs.define
class _Settings:
    """Strictly private: what `configure` set. None means "not set, use the environment"."""

    secret: bytes | None = None
    old_secrets: tuple[bytes, ...] = ()
    result_ttl: float = 7 * 86400.0
    trust_legacy_pickles: bool = False
    result_store: str | None = None
    task_modules: tuple[str, ...] = ()
    max_task_size: int = 32 * 1024 * 1024


#: A dotted module name: nothing else may be imported for a task.
MODULE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


_settings = _Settings()
_generation = 0


def _as_key(value: str | bytes) -> bytes:
    key = value.encode() if isinstance(value, str) else bytes(value)
    if len(key) < 16:
        raise ValueError("a secret must be at least 16 bytes long")
    return key


def configure(
    *,
    secret: str | bytes | _Unset | None = _UNSET,
    old_secrets: Sequence[str | bytes] | _Unset = _UNSET,
    result_ttl: float | timedelta | _Unset = _UNSET,
    trust_legacy_pickles: bool | _Unset = _UNSET,
    result_store: str | _Unset | None = _UNSET,
    task_modules: Sequence[str] | _Unset = _UNSET,
    max_task_size: int | _Unset = _UNSET,
) -> None:
    """Set the secret that signs pickled payloads, in this process.

    Args:
        secret: signs every pickle the library writes and verifies what it reads. ``None`` goes back
            to the ``UWSGITASKS_SECRET`` environment variable. At least 16 bytes.
        old_secrets: secrets that are still accepted when verifying, so keys can be rotated: deploy
            the new secret with the old one here, and drop it once old tasks have drained.
        result_ttl: how long outcome records are kept (seconds or a timedelta; 7 days by default).
            Spoolers and mules remove older ones as they write new ones, at most once a minute.
        trust_legacy_pickles: run spool files and mule messages written by uwsgi_tasks 0.7.3. They are
            unsigned pickles, so this trusts whoever can write into the spool directory or send to the
            mules. Off by default: such files are set aside with a note saying so.
        result_store: where outcomes (and notes, and tasks sent by reference) are kept: a Redis URL
            (``redis://host:6379/0``, needs the ``redis`` package) shared by every host whose handles
            should see them; ``None`` goes back to the ``UWSGITASKS_RESULT_STORE`` environment
            variable, and without it to files beside each spool directory. Its client library is
            imported here, in the process that configures it (uWSGI's master), never later in a
            spooler whose working directory is a spool directory.
        task_modules: modules (a name covers its submodules) that a spooler or mule may import to
            find the task an *unsigned* spool file or mule message names. Without a secret, a task
            must otherwise be registered already: imported by the application before the fork.
            Tasks signed with the secret may import their module wherever they run.
        max_task_size: the largest spool file body, mule message or payload accepted, in bytes
            (32 MiB by default); anything larger is set aside unread.

    Every process that sends or runs tasks needs the same secret: configure it where the tasks module
    is imported, so workers, spoolers and mules all see it.
    """
    global _keys, _generation
    _keys = None
    _generation += 1
    if secret is not _UNSET:
        _settings.secret = None if secret is None else _as_key(secret)
    if old_secrets is not _UNSET:
        _settings.old_secrets = tuple(_as_key(k) for k in old_secrets)
    if result_ttl is not _UNSET:
        ttl = result_ttl.total_seconds() if isinstance(result_ttl, timedelta) else float(result_ttl)
        if not ttl > 0:
            raise ValueError(f"result_ttl must be positive, not {result_ttl!r}")
        _settings.result_ttl = ttl
    if trust_legacy_pickles is not _UNSET:
        _settings.trust_legacy_pickles = bool(trust_legacy_pickles)
    if result_store is not _UNSET:
        if result_store is not None and not result_store.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"result_store takes a Redis URL (redis://host:port/db), not {result_store!r}")
        _settings.result_store = result_store
        if result_store is not None:
            import_store_client()
    if task_modules is not _UNSET:
        given: tuple[object, ...] = (task_modules,) if isinstance(task_modules, str) else tuple(task_modules)
        names = tuple(name for name in given if isinstance(name, str) and MODULE_NAME.fullmatch(name))
        if len(names) != len(given):
            raise ValueError(f"task_modules takes dotted module names, not {task_modules!r}")
        _settings.task_modules = names
    if max_task_size is not _UNSET:
        size: object = max_task_size
        if type(size) is not int or size < 1024:
            raise ValueError(f"max_task_size is a number of bytes >= 1024, not {max_task_size!r}")
        _settings.max_task_size = size


def import_store_client() -> None:
    """Import the shared store's client library now, if one is configured and installed.

    A spooler runs with its spool directory as the working directory, and uWSGI's ``sys.path``
    starts with it: a first ``import redis`` there would load whatever ``redis.py`` someone put
    beside the spool files. Imported in the master, the module is already in ``sys.modules``.
    """
    if result_store_url() is None:
        return
    # Missing, the store says so (with the package to install) when it is first used.
    with contextlib.suppress(ImportError):
        import redis  # noqa: F401 -- imported for sys.modules, see above


def task_modules() -> tuple[str, ...]:
    return _settings.task_modules


def max_task_size() -> int:
    return _settings.max_task_size


def generation() -> int:
    """Changes with every `configure` call: caches of what it sets compare it."""
    return _generation


def result_store_url() -> str | None:
    """The shared result store's URL, if there is one (configured, or from the environment)."""
    return _settings.result_store or os.environ.get(RESULT_STORE_ENV) or None


def legacy_pickles_trusted() -> bool:
    return _settings.trust_legacy_pickles


def result_ttl() -> float:
    """Seconds an outcome record is kept."""
    return _settings.result_ttl


_keys: tuple[bytes, ...] | None = None


def signing_keys() -> tuple[bytes, ...]:
    """The keys that verify a signature, the signing key first; empty when no secret is set.

    The environment is read once, at the first use after `configure` (every task signs with it).
    """
    global _keys
    if _keys is None:
        secret = _settings.secret
        if secret is None:
            from_env = os.environ.get(SECRET_ENV)
            if from_env is not None and not from_env.strip():
                raise ConfigurationError(
                    f"{SECRET_ENV} is set but empty: set it to a secret of at least 16 bytes, or unset "
                    "it to run without one (an empty secret is never taken to mean 'no secret')"
                )
            secret = _as_key(from_env) if from_env else None
        _keys = () if secret is None else (secret, *_settings.old_secrets)
    return _keys
