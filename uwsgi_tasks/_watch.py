"""One background thread per process that calls `TaskHandle.add_done_callback` callbacks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._handle import TaskHandle

logger = logging.getLogger("uwsgi_tasks")

_INTERVAL = 0.02

_lock = threading.Lock()
_waiting: list[tuple[TaskHandle[Any], Callable[[Any], object]]] = []
_thread: threading.Thread | None = None


def when_done(handle: TaskHandle[Any], callback: Callable[[Any], object]) -> None:
    global _thread
    with _lock:
        _waiting.append((handle, callback))
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="uwsgi_tasks-callbacks", daemon=True)
            _thread.start()


def _run() -> None:
    global _thread
    stop = threading.Event()
    while not stop.wait(_INTERVAL):
        with _lock:
            pending = list(_waiting)
        for entry in pending:
            handle, callback = entry
            if handle._final() is None:
                continue
            with _lock:
                _waiting.remove(entry)
            try:
                callback(handle)
            except Exception:
                logger.exception("done callback of task %s raised", handle.id)
        with _lock:
            if not _waiting:
                _thread = None
                return
