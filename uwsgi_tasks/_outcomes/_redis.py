"""`RedisResultStore`: outcomes, notes and tasks sent by reference, in a Redis every host can reach.

Records are written with the result TTL (Redis expires them; nothing to prune) and a counter is
incremented with each one, so waiters poll one small key and read records only when it moves.
redis-py's connection pool notices a fork and opens new connections in the child, so a store made
in uWSGI's master is safe to use in its workers, spoolers and mules.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _codec
from .._config import result_ttl
from .._exceptions import ConfigurationError
from ._model import Outcome, checked_id
from ._store import readable


class RedisResultStore:
    """A shared store in Redis at *url* (``redis://host:port/db``); keys start with *prefix*."""

    shared = True

    def __init__(self, url: str, prefix: str = "uwsgi_tasks:") -> None:
        try:
            import redis
        except ImportError as e:
            raise ConfigurationError(
                f"result_store={url!r} needs the redis package: pip install 'uwsgi-tasks[redis]'"
            ) from e
        self.url = url
        self.prefix = prefix
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._version = f"{prefix}version"
        self._discard = self._redis.register_script(_DISCARD)

    def _key(self, kind: str, task_id: str) -> str:
        return f"{self.prefix}{kind}:{checked_id(task_id)}"

    def put(self, outcome: Outcome) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(
            self._key("result", outcome.task_id), _codec.encode_outcome(outcome), ex=_seconds(result_ttl())
        )
        pipe.incr(self._version)
        pipe.execute()

    def get(self, task_id: str) -> Outcome | None:
        return readable(self._redis.get(self._key("result", task_id)), task_id)

    def version(self) -> object:
        return self._redis.get(self._version)

    def discard(self, outcome: Outcome) -> None:
        """Remove *outcome*'s record if it is still exactly that one: a send that failed after its
        QUEUED record was written, unless the receiving host wrote its own record since."""
        self._discard(
            keys=[self._key("result", outcome.task_id), self._version], args=[_codec.encode_outcome(outcome)]
        )

    def forget(self, task_id: str) -> None:
        """Remove what says *task_id* ran (its record, its silent-success note): it is requeued."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(self._key("result", task_id), self._key("note:done", task_id))
        pipe.incr(self._version)
        pipe.execute()

    def put_note(self, task_id: str, kind: str, data: bytes) -> None:
        sealed = _codec.seal_note(task_id, kind, data)
        self._redis.set(self._key(f"note:{kind}", task_id), sealed, ex=_seconds(result_ttl()))

    def get_note(self, task_id: str, kind: str) -> bytes | None:
        stored: bytes | None = self._redis.get(self._key(f"note:{kind}", task_id))
        return None if stored is None else _codec.open_note(task_id, kind, stored)

    def put_payload(self, task_id: str, data: bytes, ttl: float) -> None:
        self._redis.set(self._key("payload", task_id), data, ex=_seconds(ttl))

    def get_payload(self, task_id: str) -> bytes | None:
        data: bytes | None = self._redis.get(self._key("payload", task_id))
        return data

    def discard_payload(self, task_id: str) -> None:
        self._redis.delete(self._key("payload", task_id))

    def __repr__(self) -> str:
        return f"<RedisResultStore {self.url}>"


# Compare and delete, in one step on the server.
_DISCARD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    redis.call('INCR', KEYS[2])
end
"""


def _seconds(ttl: float) -> int:
    return max(1, math.ceil(ttl))
