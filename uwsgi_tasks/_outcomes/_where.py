"""Which store keeps a task's outcome: the shared store every host sees (``configure(result_store=)``),
else the files beside the spool directory the task was sent to, or this process's memory for tasks
run in place. Stores are made once per process and directory."""

from __future__ import annotations

from .. import _config, _uwsgi
from ._files import FileResultStore
from ._memory import IN_PROCESS
from ._redis import RedisResultStore
from ._store import ResultStore, SharedStore

_file_stores: dict[str, FileResultStore] = {}


def file_store(spool_dir: str) -> FileResultStore:
    """The store of *spool_dir* (one object per directory and process)."""
    store = _file_stores.get(spool_dir)
    if store is None:
        store = _file_stores[spool_dir] = FileResultStore(spool_dir)
    return store


def store_for(spool_dir: str) -> ResultStore:
    """Where the outcomes of *spool_dir*'s tasks are kept: the shared store if one is configured,
    else the files beside the directory."""
    return shared() or file_store(spool_dir)


def instance_store() -> ResultStore | None:
    """Where the instance's tasks that have no spool file of their own record outcomes (mule tasks,
    tasks run in place inside uWSGI): the shared store, else the first spooler directory's; None when
    the instance has neither."""
    dirs = _uwsgi.spooler_dirs()
    return shared() or (file_store(dirs[0]) if dirs else None)


_shared: tuple[int, SharedStore | None] = (-1, None)


def shared() -> SharedStore | None:
    """The store shared by every host (``configure(result_store=...)``), or None."""
    global _shared
    generation, store = _shared
    if generation != _config.generation():
        url = _config.result_store_url()
        if url is None:
            store = None
        elif store is None or store.url != url:
            store = RedisResultStore(url)
        _shared = (_config.generation(), store)
    return store


def at_location(location: str | None) -> ResultStore | None:
    """The store a handle names (see `location`): a spool directory, "" for this process's in-place
    outcomes, or a shared store's URL, which must be this process's own shared store (a handle that
    travelled in a task never makes us connect anywhere else)."""
    if location is None:
        return None
    if not location:
        return IN_PROCESS
    if "://" in location:
        store = shared()
        return store if store is not None and store.url == location else None
    return file_store(location)


def location(store: ResultStore | None) -> str | None:
    if store is None:
        return None
    if isinstance(store, FileResultStore):
        return store.spool_dir
    url: str = getattr(store, "url", "")  # a shared store's; in-place outcomes have none
    return url
