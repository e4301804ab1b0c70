"""Where a task can go beyond this instance's own spoolers: `Remote` and `SpoolDirectory`.

These are values (the ``spooler=`` option takes them); `_send._beyond` sends to them.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from typing import Final, Literal

import attrs

URL: Final = re.compile(r"uwsgi://(?P<host>\[[^\]]+\]|[^/:]+):(?P<port>\d+)(?P<path>/.*)?")
#: uWSGI's default --buffer-size: the largest packet a receiver takes unless configured otherwise.
DEFAULT_BUFFER_SIZE: Final = 4096


def _addresses(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    addresses = (value,) if isinstance(value, str) else tuple(value)
    for address in addresses:
        match = URL.fullmatch(address)
        if match is None or match["path"] or not 0 < int(match["port"]) < 65536:
            raise ValueError(f"a remote spooler address is uwsgi://host:port, not {address!r}")
    if not addresses:
        raise ValueError("a Remote needs at least one address")
    return addresses


@attrs.frozen
class Remote:
    """The spooler of another uWSGI instance, reached on its uwsgi socket.

    Attributes:
        addresses: ``uwsgi://host:port``, or several: tried in order (*policy* "failover") or starting
            from the next one each time ("round_robin"), the next one taking over when one fails.
        spooler: the spooler directory on that instance (its first one by default).
        timeout: seconds to connect and to get the answer, per address.
        buffer_size: the receiver's ``--buffer-size`` (uWSGI's default is 4096): a larger packet is
            refused here, naming both sizes, or sent by reference through the shared store.

    ``Remote.parse("uwsgi://10.0.0.5:3031/var/spool/app")`` is the one-address form; a task option
    ``spooler="uwsgi://..."`` is parsed the same way.
    """

    addresses: tuple[str, ...] = attrs.field(converter=_addresses)
    spooler: str | None = None
    policy: Literal["failover", "round_robin"] = attrs.field(
        default="failover", validator=attrs.validators.in_(("failover", "round_robin"))
    )
    timeout: float = 5.0
    buffer_size: int = DEFAULT_BUFFER_SIZE
    _turn: Iterator[int] = attrs.field(factory=itertools.count, init=False, eq=False, repr=False)

    @classmethod
    def parse(cls, url: str) -> Remote:
        match = URL.fullmatch(url)
        if match is None:
            raise ValueError(f"a remote spooler is uwsgi://host:port[/spool/dir], not {url!r}")
        return cls(f"uwsgi://{match['host']}:{match['port']}", spooler=match["path"])

    def _order(self) -> tuple[str, ...]:
        if self.policy == "failover" or len(self.addresses) == 1:
            return self.addresses
        start = next(self._turn) % len(self.addresses)
        return self.addresses[start:] + self.addresses[:start]


def _absolute(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(path)  # retries go to it from the spooler, whose cwd is elsewhere


@attrs.frozen
class SpoolDirectory:
    """A spool directory on this host, written directly: for producers outside this uWSGI instance
    (a script, a cron job, another instance), like uWSGI's ``--spooler-external``."""

    path: str = attrs.field(converter=_absolute)


def spooler_dir(spooler: str | Remote | SpoolDirectory | None) -> str | None:
    """The spooler directory a spec names: where its retries go, on the instance that runs it."""
    if isinstance(spooler, Remote):
        return spooler.spooler
    if isinstance(spooler, SpoolDirectory):
        return spooler.path
    return spooler
