"""Our own directories under attack, and the command line run by an operator (as root, often): nothing
follows a symlink or blocks on a FIFO planted there, nothing a spool file holds can rewrite the
terminal, and the CLI validates exactly as the API does.

Every test here failed on the code before the hardening issue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import uwsgi_tasks
from tests.unit.test_cli import run
from uwsgi_tasks import ConfigurationError, SpoolDirectory, TaskStatus, _codec, _spooldir, task
from uwsgi_tasks._config import SECRET_ENV
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks._outcomes._model import Outcome
from uwsgi_tasks._run import _starts
from uwsgi_tasks._spec import TaskSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "spool"
    (directory / ".uwsgi_tasks" / "set_aside").mkdir(parents=True)
    (directory / ".uwsgi_tasks" / "results").mkdir()
    return directory


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Path]:
    """A file an attacker would like an operator's command to overwrite or truncate."""
    path = tmp_path / "victim"
    path.write_text("precious")
    before = path.stat().st_mtime_ns
    yield path
    assert path.read_text() == "precious"
    assert path.stat().st_mtime_ns == before


def spool(directory: Path, spec: TaskSpec, name: str | None = None) -> Path:
    path = directory / (name or f"uwsgi_spoolfile_on_test_{spec.task_id}")
    path.write_bytes(_codec.pack_spool_file(_codec.encode_spool(spec).message))
    return path


def set_aside(spool_dir: Path, spec: TaskSpec, reason: str = "failed") -> Path:
    aside = spool_dir / ".uwsgi_tasks" / "set_aside"
    path = spool(aside, spec)
    (aside / f"{path.name}.reason.json").write_text(json.dumps({"reason": reason}))
    return path


def test_no_command_follows_a_symlink_planted_where_it_writes(spool_dir: Path, victim: Path) -> None:
    """Links at every name the commands write (due notes, a record's temporary file, a set-aside
    entry) are never followed: the victim is neither truncated nor touched."""
    state = spool_dir / ".uwsgi_tasks"
    (state / "due").mkdir()
    now = int(time.time())
    for second in range(now - 2, now + 3700):
        (state / "due" / str(second)).symlink_to(victim)
    queued = spool(spool_dir, TaskSpec("m:f", "a" * 32, time.time()))
    assert queued.exists()
    record = state / "results" / f"{'a' * 32}.{os.getpid()}.{threading.get_ident()}.tmp"
    record.symlink_to(victim)
    aside = state / "set_aside" / "uwsgi_spoolfile_on_link"
    aside.symlink_to(victim)
    set_aside(spool_dir, TaskSpec("m:f", "b" * 32, time.time()))
    assert run("cancel", str(spool_dir), "a" * 32)[0] == 0
    assert run("requeue", str(spool_dir), "b" * 32)[0] == 0
    assert run("send", str(spool_dir), "m:f")[0] == 0
    assert run("send", str(spool_dir), "m:f", "--at", "+3600")[0] == 0
    assert run("list", str(spool_dir))[0] == 0
    assert run("purge", str(spool_dir), "--failed")[0] == 0


def test_no_command_blocks_on_a_fifo(spool_dir: Path) -> None:
    """FIFOs where spool files, set-aside files, reasons and records live are skipped, not opened for
    reading (which would block the command for ever)."""
    state = spool_dir / ".uwsgi_tasks"
    os.mkfifo(state / "set_aside" / "uwsgi_spoolfile_on_fifo")
    set_aside(spool_dir, TaskSpec("m:f", "c" * 32, time.time()))
    reason = next((state / "set_aside").glob("*.reason.json"))
    reason.unlink()
    os.mkfifo(reason)
    os.mkfifo(state / "results" / ("d" * 32))
    (spool_dir / "7").mkdir()
    os.mkfifo(spool_dir / "7" / "uwsgi_spoolfile_on_fifo")
    os.symlink(spool_dir / "7" / "uwsgi_spoolfile_on_fifo", spool_dir / "7" / "uwsgi_spoolfile_on_link")
    commands = [
        ["list", str(spool_dir)],
        ["list", str(spool_dir), "--json"],
        ["show", str(spool_dir), "c" * 32],
        ["show", str(spool_dir), "d" * 32],
        ["requeue", str(spool_dir), "c" * 32],
        ["purge", str(spool_dir), "--failed"],
    ]
    for argv in commands:
        done = subprocess.run(
            [sys.executable, "-m", "uwsgi_tasks", *argv],
            capture_output=True,
            timeout=20,
            cwd=ROOT,
            check=False,
        )
        assert b"Traceback" not in done.stderr, (argv, done.stderr)
    probe = (
        f"from uwsgi_tasks import TaskHandle; print(TaskHandle.from_id('d' * 32, {str(spool_dir)!r}).status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=20, cwd=ROOT, check=False
    )
    assert done.stdout.strip() == b"TaskStatus.UNKNOWN", done.stderr


def test_list_and_show_never_print_control_characters(spool_dir: Path) -> None:
    """Function names, arguments, reasons and file names from a spool directory are escaped."""
    evil = "\x1b]0;owned\x07\x1b[2J\u202e"
    spool(
        spool_dir,
        TaskSpec(f"m:f{evil}", "e" * 32, time.time(), args=(evil,), kwargs={"k": evil}),
        name=f"uwsgi_spoolfile_on_{evil}",
    )
    set_aside(spool_dir, TaskSpec(f"m:g{evil}", "f" * 32, time.time()), reason=f"broken{evil}")
    outputs = [run("list", str(spool_dir))[1], run("show", str(spool_dir), "e" * 32)[1]]
    outputs.append(run("show", str(spool_dir), "f" * 32)[1])
    for text in outputs:
        assert "owned" in text or "broken" in text
        assert not any(c in text for c in "\x1b\x07\u202e"), repr(text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--priority", "-1"], "priority"),
        (["--at", "+1e300"], "at="),
        (["--at", "nan"], "at="),
        (["--at", "+inf"], "at="),
    ],
)
def test_send_refuses_what_the_api_refuses_and_leaves_nothing(
    spool_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _ = run("send", str(spool_dir), "m:f", *argv)
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
    assert [p for p in spool_dir.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("name", ["m:", ":f", "m f:g", "m:f()", "m:f;x", "m.:f"])
def test_send_refuses_names_that_are_not_module_qualname(
    spool_dir: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert run("send", str(spool_dir), name)[0] == 1
    assert "module:qualname" in capsys.readouterr().err


@task
def private(x: int) -> int:
    return x


def test_spool_files_written_without_uwsgi_are_private(spool_dir: Path) -> None:
    """Producers outside uWSGI (the CLI, SpoolDirectory) write spool files 0600, as uWSGI does."""
    old = os.umask(0o022)
    try:
        assert run("send", str(spool_dir), "m:f")[0] == 0
        private.options(spooler=SpoolDirectory(spool_dir)).spool(1)
    finally:
        os.umask(old)
    modes = {oct(p.stat().st_mode & 0o777) for p in spool_dir.glob("uwsgi_spoolfile_on_*")}
    assert modes == {"0o600"}


def test_an_empty_secret_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """UWSGITASKS_SECRET set to nothing is refused with a clear error, never taken as 'no secret'."""
    monkeypatch.setenv(SECRET_ENV, "")
    uwsgi_tasks.configure(secret=None)
    with pytest.raises(ConfigurationError, match="UWSGITASKS_SECRET is set but empty"):
        private.run(1)


def test_a_record_that_is_not_a_regular_file_is_no_record(spool_dir: Path) -> None:
    """A symlink standing for a record (to another task's record, or anywhere) is not read."""
    store = FileResultStore(str(spool_dir))
    store.put(Outcome("1" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0, "mine", True))
    (spool_dir / ".uwsgi_tasks" / "results" / ("2" * 32)).symlink_to(store.path_of("1" * 32))
    assert store.get("2" * 32) is None


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("task_modules", ["ok", "not a module"]),
        ("task_modules", ["os.", ""]),
        ("max_task_size", 10),
        ("max_task_size", True),
        ("max_task_size", 2.5e6),
    ],
)
def test_configure_refuses_what_it_cannot_mean(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        uwsgi_tasks.configure(**{option: value})  # type: ignore[arg-type] # wrong on purpose


def test_records_are_bound_to_their_task_with_a_secret(spool_dir: Path) -> None:
    """With a secret, a record copied to another task's name, or written without the secret, is no
    record; a note likewise."""
    store = FileResultStore(str(spool_dir))
    uwsgi_tasks.configure(secret="records-secret-0123456789")
    try:
        store.put(Outcome("1" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0, "mine", True))
        assert store.get("1" * 32) is not None
        (spool_dir / ".uwsgi_tasks" / "results" / ("2" * 32)).write_bytes(
            Path(store.path_of("1" * 32)).read_bytes()
        )
        assert store.get("2" * 32) is None
        store.put_note("1" * 32, "django", b"note")
        assert store.get_note("1" * 32, "django") == b"note"
        Path(f"{store.path_of('1' * 32)}.django").write_bytes(b"forged")
        assert store.get_note("1" * 32, "django") is None
    finally:
        uwsgi_tasks.configure(secret=None)


def test_the_spool_signature_covers_at_priority_and_spooler() -> None:
    """A signed spool message whose uWSGI keys were changed does not verify; unchanged, it does."""
    spec = TaskSpec("m:f", "3" * 32, 1.0, at=2_000_000_000, priority=1, spooler="/spool")
    uwsgi_tasks.configure(secret="keys-secret-0123456789abc")
    try:
        message = _codec.encode_spool(spec).message
        assert _codec.decode_spool(message).at == spec.at
        for key, value in ((b"at", b"1"), (b"priority", b"0"), (b"spooler", b"/elsewhere")):
            with pytest.raises(uwsgi_tasks.DecodeError, match="does not verify"):
                _codec.decode_spool({**message, key: value})
        without = {k: v for k, v in message.items() if k != b"at"}
        with pytest.raises(uwsgi_tasks.DecodeError, match="does not verify"):
            _codec.decode_spool(without)
    finally:
        uwsgi_tasks.configure(secret=None)


def test_values_name_only_types_already_imported() -> None:
    """$obj, $enum and retry_on resolve in sys.modules only: a module that is not imported is never
    imported because a value named it."""
    for tree in (
        b'{"$obj": ["json.tool:Nothing", {}]}',
        b'{"$enum": ["xml.dom.minidom:Nothing", 1]}',
    ):
        module = json.loads(tree)[next(iter(json.loads(tree)))][0].partition(":")[0]
        sys.modules.pop(module, None)
        with pytest.raises(uwsgi_tasks.DecodeError, match="not imported"):
            _codec.decode_value(tree)
        assert module not in sys.modules


@pytest.mark.parametrize("link", [".uwsgi_tasks/set_aside", ".uwsgi_tasks/results", ".uwsgi_tasks"])
def test_commands_never_delete_through_a_symlinked_state_directory(tmp_path: Path, link: str) -> None:
    """A state directory replaced by a symlink to elsewhere: purge and requeue (run as root by an
    operator) refuse it, and nothing where it points is deleted."""
    spool_dir = tmp_path / "spool"
    (spool_dir / ".uwsgi_tasks").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / ("9" * 32)
    precious.write_text('{"status": "failed"}')
    os.utime(precious, (0, 0))
    target = spool_dir / link
    if target.exists():
        target.rmdir()
    target.symlink_to(elsewhere)
    for argv in (["purge", "--failed", "--older-than", "0s"], ["requeue", "9" * 32], ["list"]):
        run(argv[0], str(spool_dir), *argv[1:])
    assert precious.read_text() == '{"status": "failed"}'


def test_a_state_directory_someone_else_made_is_refused(tmp_path: Path) -> None:
    """Whoever made .uwsgi_tasks first could swap what is inside: one owned by another user is not used."""
    spool_dir = tmp_path / "spool"
    (spool_dir / ".uwsgi_tasks" / "results").mkdir(parents=True)
    os.chown(spool_dir / ".uwsgi_tasks", 12345, 12345)
    with pytest.raises(OSError, match="owned by"):
        _spooldir.StateDir(str(spool_dir), "results")


def test_start_markers_count_deaths_of_one_attempt_and_refuse_a_second_runner(tmp_path: Path) -> None:
    """A marker left by a start that never ended counts a death of the same attempt only; while one
    process runs the task, another start of it is refused (a copy queued twice); with a secret, a
    forged silent-success marker says nothing."""
    spool_dir = str(tmp_path)
    deaths, fd = _starts.begin(spool_dir, "5" * 32, 1)
    assert deaths == 0
    with pytest.raises(_starts.Busy):
        _starts.begin(spool_dir, "5" * 32, 1)
    os.close(fd)  # the process died: its lock went with it, its marker stayed
    deaths, fd = _starts.begin(spool_dir, "5" * 32, 1)
    assert deaths == 1
    os.close(fd)
    deaths, fd = _starts.begin(spool_dir, "5" * 32, 2)  # a marker of attempt 1 says nothing of 2
    assert deaths == 0
    _starts.end(spool_dir, "5" * 32, fd, silently_done=True)
    assert _starts.ran_silently(spool_dir, "5" * 32)
    uwsgi_tasks.configure(secret="markers-secret-0123456789")
    try:
        assert not _starts.ran_silently(spool_dir, "5" * 32)  # unsigned: forged, as far as we know
    finally:
        uwsgi_tasks.configure(secret=None)


def test_requeue_never_signs_what_did_not_verify(spool_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scheduled task set aside because it was forged is not signed by an operator's requeue (it
    would come back as a valid task); a signed one is not requeued unsigned by a shell without the
    secret (it could never run again)."""
    secret = "requeue-secret-0123456789abc"
    forged = TaskSpec("m:f", "6" * 32, time.time(), at=int(time.time()) + 3600)
    path = set_aside(spool_dir, forged)
    message = _codec.parse_spool_file(path.read_bytes())
    path.write_bytes(_codec.pack_spool_file({**message, b"sig": b"\x00" * 32}))
    uwsgi_tasks.configure(secret=secret)
    try:
        assert run("requeue", str(spool_dir), "6" * 32)[0] == 1
        assert "does not verify" in capsys.readouterr().err
        signed = set_aside(spool_dir, TaskSpec("m:f", "7" * 32, time.time(), at=int(time.time()) + 3600))
    finally:
        uwsgi_tasks.configure(secret=None)
    assert run("requeue", str(spool_dir), "7" * 32)[0] == 1
    assert "needs the secret" in capsys.readouterr().err
    assert path.exists() and signed.exists()
    assert not list(spool_dir.glob("uwsgi_spoolfile_on_*"))


def test_cancel_removes_only_the_file_it_locked(tmp_path: Path) -> None:
    """If the name now leads to another file (a directory swapped meanwhile), nothing is unlinked."""
    from uwsgi_tasks import _locks

    path = tmp_path / "uwsgi_spoolfile_on_a"
    path.write_bytes(b"a")
    with _locks.locked(str(path)) as held:
        assert held is not None
        other = tmp_path / "other"
        other.write_bytes(b"b")
        other.replace(path)  # the name now names another file
        with pytest.raises(FileNotFoundError):
            _locks.remove_locked(str(path), held)
    assert path.read_bytes() == b"b"
