"""``python -m uwsgi_tasks`` (or ``uwsgi-tasks``): the tasks of a spool directory, from a shell, and
``send`` to enqueue one from a script.

Nothing read from a spool file is executed, imported or unpickled: arguments are shown as text and
pickled values as ``<pickled N bytes>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final, TextIO

from . import _codec, _config, _inspect, _spooldir, _spoolfiles
from ._exceptions import DecodeError, UwsgiTasksError
from ._handle import TaskHandle
from ._outcomes._model import TaskStatus, checked_id
from ._outcomes._store import record_limit
from ._outcomes._where import shared
from ._send._again import send_spec
from ._spec import TaskSpec, new_task_id, priority_number, unix_time
from ._targets import Remote, SpoolDirectory, spooler_dir

#: What `send` accepts as a task: ``package.module:Class.function``, dotted identifiers on both sides.
FUNCTION: Final = re.compile(f"{_config.MODULE_NAME.pattern}:{_config.MODULE_NAME.pattern}")


def printable(text: str) -> str:
    """*text* with every character a terminal could act on escaped (controls, bidi overrides): what
    a spool file holds must never rewrite the operator's screen."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    rows = _inspect.rows(args.spool_dir)
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
        return 0
    out.write(f"{'STATUS':<10} {'TASK ID':<32} {'ATTEMPT':>7} {'AT':<25} {'SIZE':>8}  FUNCTION\n")
    for row in rows:
        attempt = "" if row["attempt"] is None else str(row["attempt"])
        function = printable(row["function"] or f"({row['reason']})")
        out.write(
            f"{row['status']:<10} {printable(row['task_id']) or '-':<32} {attempt:>7} "
            f"{row['at'] or '-':<25} {row['size']:>8}  {function}\n"
        )
    out.write(f"{len(rows)} task(s)\n")
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    details = _inspect.details(args.spool_dir, args.task_id)
    if args.json:
        try:
            text = json.dumps(details, indent=2)
        except RecursionError:
            raise ValueError(f"task {args.task_id} is nested too deeply to show as JSON") from None
        out.write(text)
        out.write("\n")
        return 0
    for key, value in details.items():
        if value not in (None, "", {}):
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
            out.write(f"{key + ':':<10} {printable(shown)}\n")
    return 0


def cmd_cancel(args: argparse.Namespace, out: TextIO) -> int:
    handle = TaskHandle.from_id(args.task_id, args.spool_dir)
    status = handle.status
    if status is TaskStatus.UNKNOWN:
        raise LookupError(f"no task {args.task_id} in {args.spool_dir}")
    if handle.cancel():
        out.write(f"cancelled {args.task_id}\n")
        return 0
    out.write(f"not cancelled: {args.task_id} is {handle.status.value}\n")
    return 1


def cmd_requeue(args: argparse.Namespace, out: TextIO) -> int:
    with _inspect.state_dir(args.spool_dir, _spooldir.SET_ASIDE) as aside:
        found = next(
            ((n, e) for n, e, _ in _inspect.set_aside_files(aside) if e.task_id == args.task_id), None
        )
        if aside is None or found is None:
            raise LookupError(f"no failed (set-aside) task {args.task_id} in {args.spool_dir}")
        name, entry = found
        priority = entry.spec.get("priority") if entry.spec else None
        queue = _spooldir.StateDir(args.spool_dir)
        with queue:
            target_fd = queue.fd
            if type(priority) is int and 0 <= priority < 2**31:
                target_fd = queue.subdir(str(priority), create=True)
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.stat(name, dir_fd=target_fd, follow_symlinks=False)
                    raise FileExistsError(f"{name} is already queued: not replacing it")
                # Due now, whatever its at= was (rewritten without it, signed with this process's
                # secret), then back where the spooler looks.
                data = aside.read(name, _spooldir.spool_file_limit())
                message = None if data is None else _codec.parse_spool_file(data)
                tree = {} if message is None else _codec.spec_tree(message)
                if message is None or tree.get("task_id") != args.task_id:
                    raise LookupError(f"{name} changed while it was requeued")
                if tree.get("at") is not None:
                    # Checked (it must verify), then signed again without its at.
                    _spooldir.write_private(
                        name, _codec.pack_spool_file(_codec.due_now(message)), dir_fd=aside.fd
                    )
                os.utime(name, dir_fd=aside.fd, follow_symlinks=False)
                os.rename(name, name, src_dir_fd=aside.fd, dst_dir_fd=target_fd)
            finally:
                if target_fd != queue.fd:
                    os.close(target_fd)
        with contextlib.suppress(FileNotFoundError):
            aside.unlink(name + _spooldir.REASON)
    _forget(args.spool_dir, args.task_id)  # else the spooler would take it for a copy that already ran
    where = os.path.join(args.spool_dir, str(priority)) if type(priority) is int else args.spool_dir
    out.write(f"requeued {args.task_id} as {printable(os.path.join(where, name))}\n")
    return 0


def _forget(spool_dir: str, task_id: str) -> None:
    """Remove what says *task_id* already ran: its record here (and in the shared store, if one is
    configured), and its silent-success marker."""
    for kind in (_spooldir.RESULTS, _spooldir.DONE):
        with _inspect.state_dir(spool_dir, kind) as directory, contextlib.suppress(FileNotFoundError):
            if directory is not None:
                directory.unlink(checked_id(task_id))
    everywhere = shared()
    if everywhere is not None:
        everywhere.forget(task_id)


_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _age(text: str) -> float:
    match = _AGE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"an age is a number with s, m, h or d, like 30m or 7d; not {text!r}"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def cmd_purge(args: argparse.Namespace, out: TextIO) -> int:
    if not args.failed and args.older_than is None:
        raise ValueError("purge needs --failed, --older-than AGE, or both")
    before = time.time() - (args.older_than or 0)
    removed = 0
    with _inspect.state_dir(args.spool_dir, _spooldir.SET_ASIDE) as aside:
        for name, _, _ in list(_inspect.set_aside_files(aside)):
            assert aside is not None
            with contextlib.suppress(FileNotFoundError):
                if aside.lstat(name).st_mtime <= before:
                    for leftover in (name, name + _spooldir.REASON):
                        with contextlib.suppress(FileNotFoundError):
                            aside.unlink(leftover)
                    removed += 1
    failed = {TaskStatus.FAILED.value, TaskStatus.CANCELLED.value}
    with _inspect.state_dir(args.spool_dir, _spooldir.RESULTS) as results:
        for name in results.names() if results is not None else []:
            assert results is not None
            try:
                if results.lstat(name).st_mtime > before:
                    continue
                if args.failed:
                    stored = results.read(name, record_limit())
                    if stored is None or _codec.outcome_tree(stored).get("status") not in failed:
                        continue
                results.unlink(name)
                removed += 1
            except (FileNotFoundError, DecodeError, RecursionError):
                continue
    out.write(f"purged {removed} record(s) and set-aside task(s)\n")
    return 0


def cmd_send(args: argparse.Namespace, out: TextIO) -> int:
    target = Remote.parse(args.target) if args.target.startswith("uwsgi://") else SpoolDirectory(args.target)
    if not FUNCTION.fullmatch(args.function):
        raise ValueError(f"a task is module:qualname (myapp.tasks:send_email), not {args.function!r}")
    try:
        values = [json.loads(value) for value in args.args]
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as e:
        raise ValueError(f"arguments are JSON values ('\"text\"', 3, '[1, 2]'): {e}") from e
    if not isinstance(kwargs, dict):
        raise ValueError("--kwargs takes a JSON object")
    if args.store:
        _config.configure(result_store=args.store)
    at = None if args.at is None else _at(args.at)
    spec = TaskSpec(
        function=args.function,
        task_id=new_task_id(),
        enqueued_at=time.time(),
        args=tuple(values),
        kwargs=kwargs,
        at=at,
        priority=None if args.priority is None else priority_number(args.priority),
        spooler=spooler_dir(target),
    )
    handle = send_spec(spec, target)
    out.write(f"{handle.id}\n")
    if args.wait is not None:
        out.write(json.dumps(handle.result(timeout=args.wait), default=repr) + "\n")
    return 0


def _at(text: str) -> int:
    """``--at``: unix seconds, or ``+SECONDS`` from now; validated as the API's ``at=`` is."""
    try:
        when = float(text[1:]) + time.time() if text[:1] == "+" else float(text)
    except ValueError:
        raise ValueError(f"at= takes unix seconds or +SECONDS, not {text!r}") from None
    return unix_time(when)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m uwsgi_tasks", description="Look at and manage the tasks of a uWSGI spool directory."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, run: Callable[[argparse.Namespace, TextIO], int], about: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=about, description=about)
        sub.add_argument("spool_dir", help="the spooler directory")
        sub.set_defaults(run=run)
        return sub

    listing = command("list", cmd_list, "tasks queued, scheduled, running, retrying, and failed")
    listing.add_argument("--json", action="store_true", help="one JSON array")
    show = command("show", cmd_show, "one task: its spool file, arguments and outcome")
    show.add_argument("task_id")
    show.add_argument("--json", action="store_true")
    command("cancel", cmd_cancel, "remove a task that has not started").add_argument("task_id")
    command("requeue", cmd_requeue, "put a failed (set-aside) task back in the queue").add_argument("task_id")
    purge = command("purge", cmd_purge, "remove old outcome records and set-aside tasks")
    purge.add_argument("--failed", action="store_true", help="only failed and cancelled tasks")
    purge.add_argument("--older-than", type=_age, metavar="AGE", help="only older than AGE (30m, 12h, 7d)")
    about = "enqueue a task from a script: into another uWSGI's spooler, or a spool directory here"
    send = commands.add_parser("send", help=about, description=about)
    send.add_argument("target", help="uwsgi://host:port[/spool/dir] (its uwsgi socket), or a spool directory")
    send.add_argument("function", help="the @task, as module:qualname")
    send.add_argument("args", nargs="*", help="positional arguments, each a JSON value")
    send.add_argument("--kwargs", default="{}", help="keyword arguments, a JSON object")
    send.add_argument("--at", help="start no earlier than: unix seconds, or +SECONDS from now")
    send.add_argument("--priority", type=int, help="spooler priority, lower runs first")
    send.add_argument("--store", help="the shared result store (redis://...), for --wait on another host")
    send.add_argument(
        "--wait", type=float, metavar="SECONDS", help="wait for the result and print it as JSON"
    )
    send.set_defaults(run=cmd_send)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 not found or not done, 2 usage)."""
    args = _parser().parse_args(argv)
    stream = sys.stdout if out is None else out
    try:
        if args.command != "send":
            args.spool_dir = os.path.abspath(args.spool_dir)  # spool files are known by absolute paths
            _spoolfiles.check_spool_dir(args.spool_dir)
        result: int = args.run(args, stream)
    except (OSError, LookupError, ValueError, UwsgiTasksError) as e:
        message = e.args[0] if isinstance(e, LookupError) and e.args else e
        print(f"python -m uwsgi_tasks: error: {printable(str(message))}", file=sys.stderr)
        return 1
    return result
