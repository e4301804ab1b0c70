"""The CLI on spool directories written without uWSGI: listing, showing, cancelling, requeueing, purging."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import Opaque
from uwsgi_tasks import TaskStatus, _codec
from uwsgi_tasks._cli import main
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks._outcomes._model import ErrorInfo, Outcome
from uwsgi_tasks._spec import TaskSpec


def spool(directory: Path, spec: TaskSpec, name: str | None = None) -> Path:
    path = directory / (name or f"uwsgi_spoolfile_on_test_{spec.task_id}")
    path.write_bytes(_codec.pack_spool_file(_codec.encode_spool(spec).message))
    if spec.at is not None:
        os.utime(path, (spec.at, spec.at))
    return path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "spool"
    directory.mkdir()
    return directory


def test_list_shows_queued_scheduled_and_failed_tasks(spool_dir: Path, secret: str) -> None:
    """list gives id, function, status, attempt, at and size; --json gives the same as data."""
    spool(spool_dir, TaskSpec("app.tasks:send", "a" * 32, time.time(), args=("x",)))
    spool(spool_dir, TaskSpec("app.tasks:later", "b" * 32, time.time(), at=int(time.time()) + 3600))
    aside = spool_dir / ".uwsgi_tasks" / "set_aside"
    aside.mkdir(parents=True)
    failed = spool(aside, TaskSpec("app.tasks:broken", "c" * 32, time.time(), attempt=3, args=(Opaque(1),)))
    (aside / f"{failed.name}.reason.json").write_text(json.dumps({"reason": "failed on attempt 3"}))
    code, text = run("list", str(spool_dir))
    assert code == 0
    assert "3 task(s)" in text
    code, data = run("list", str(spool_dir), "--json")
    rows = {row["task_id"]: row for row in json.loads(data)}
    assert rows["a" * 32]["status"] == "queued" and rows["a" * 32]["function"] == "app.tasks:send"
    assert rows["b" * 32]["status"] == "scheduled" and rows["b" * 32]["at"]
    assert rows["c" * 32]["status"] == "failed" and rows["c" * 32]["attempt"] == 3
    assert rows["c" * 32]["reason"] == "failed on attempt 3"


def test_show_renders_arguments_without_unpickling(spool_dir: Path, secret: str) -> None:
    """show prints arguments as text; a pickled one is <pickled N bytes>, never loaded."""
    spec = TaskSpec("app.tasks:send", "d" * 32, time.time(), args=(1, Opaque(2)), kwargs={"to": "ada"})
    spool(spool_dir, spec)
    code, data = run("show", str(spool_dir), "d" * 32, "--json")
    details = json.loads(data)
    assert code == 0
    assert details["status"] == "queued"
    assert details["args"].startswith("(1, <pickled ") and details["args"].endswith(" bytes>)")
    assert details["kwargs"] == '{"to": "ada"}'
    code, text = run("show", str(spool_dir), "d" * 32)
    assert "app.tasks:send" in text


def test_show_includes_the_outcome(spool_dir: Path) -> None:
    """show includes the recorded outcome of a finished task, its value rendered."""
    FileResultStore(str(spool_dir)).put(
        Outcome("e" * 32, TaskStatus.FAILED, 2, 1.0, 2.0, error=ErrorInfo("builtins.KeyError", "'k'"))
    )
    code, data = run("show", str(spool_dir), "e" * 32, "--json")
    details = json.loads(data)
    assert code == 0
    assert details["status"] == "failed"
    assert details["outcome"]["error"]["type_path"] == "builtins.KeyError"


def test_cancel_removes_a_queued_task_and_records_it(spool_dir: Path) -> None:
    """cancel removes a task nobody runs, records CANCELLED, and says so; twice fails."""
    path = spool(spool_dir, TaskSpec("m:f", "f" * 32, time.time()))
    assert run("cancel", str(spool_dir), "f" * 32) == (0, f"cancelled {'f' * 32}\n")
    assert not path.exists()
    record = FileResultStore(str(spool_dir)).get("f" * 32)
    assert record is not None and record.status is TaskStatus.CANCELLED
    code, text = run("cancel", str(spool_dir), "f" * 32)
    assert code == 1 and "is cancelled" in text


def test_requeue_puts_a_failed_task_back(spool_dir: Path) -> None:
    """requeue moves a set-aside task back into the queue (its priority directory), due now."""
    aside = spool_dir / ".uwsgi_tasks" / "set_aside"
    aside.mkdir(parents=True)
    failed = spool(aside, TaskSpec("m:f", "1" * 32, time.time(), priority=3, at=int(time.time()) + 999))
    (aside / f"{failed.name}.reason.json").write_text("{}")
    FileResultStore(str(spool_dir)).put(Outcome("1" * 32, TaskStatus.FAILED, 1, 1.0, 2.0))
    code, text = run("requeue", str(spool_dir), "1" * 32)
    assert code == 0 and text.startswith(f"requeued {'1' * 32} as ")
    back = spool_dir / "3" / failed.name
    assert back.exists() and back.stat().st_mtime <= time.time()
    assert not failed.exists()
    assert FileResultStore(str(spool_dir)).get("1" * 32) is None


def test_purge_removes_failed_and_old_records(spool_dir: Path) -> None:
    """purge --failed drops failed records and set-aside tasks; --older-than keeps recent ones."""
    store = FileResultStore(str(spool_dir))
    store.put(Outcome("2" * 32, TaskStatus.FAILED, 1, 1.0, 2.0))
    store.put(Outcome("3" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0, None, True))
    assert run("purge", str(spool_dir), "--failed", "--older-than", "1h")[0] == 0
    assert store.get("2" * 32) is not None
    assert run("purge", str(spool_dir), "--failed") == (0, "purged 1 record(s) and set-aside task(s)\n")
    assert store.get("2" * 32) is None and store.get("3" * 32) is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "/no/such/dir"], "no such directory"),
        (["list", "/etc"], "is not a spool directory"),
        (["show", "{spool}", "9" * 32], "no task 9999"),
        (["cancel", "{spool}", "9" * 32], "no task 9999"),
        (["requeue", "{spool}", "9" * 32], "no failed (set-aside) task"),
        (["purge", "{spool}"], "purge needs --failed"),
    ],
)
def test_clear_errors(
    spool_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A missing dir, a dir that is not a spool dir and an unknown id are errors with a message."""
    code, _ = run(*(a.format(spool=spool_dir) for a in argv))
    assert code == 1
    assert message in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad command lines are argparse errors (exit status 2)."""
    with pytest.raises(SystemExit) as exited:
        run("purge", "/tmp", "--older-than", "soon")
    assert exited.value.code == 2


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    files=st.lists(st.binary(max_size=400), max_size=6),
    names=st.lists(st.text("0123456789abc_", max_size=8), max_size=6),
)
def test_the_cli_never_raises_on_arbitrary_files(
    tmp_path: Path, files: list[bytes], names: list[str]
) -> None:
    """Arbitrary bytes in spool files, priority directories and records never crash list or show."""
    directory = tmp_path / f"spool-{time.monotonic_ns()}"
    (directory / "7").mkdir(parents=True)
    (directory / ".uwsgi_tasks" / "results").mkdir(parents=True)
    (directory / ".uwsgi_tasks" / "set_aside").mkdir(parents=True)
    for i, data in enumerate(files):
        (directory / f"uwsgi_spoolfile_on_x_{i}").write_bytes(data)
        (directory / "7" / f"uwsgi_spoolfile_on_y_{i}").write_bytes(b"\x11" + data)
        (directory / ".uwsgi_tasks" / "set_aside" / f"uwsgi_spoolfile_on_z_{i}").write_bytes(data)
        (directory / ".uwsgi_tasks" / "results" / ("a" * 31 + str(i))).write_bytes(data)
    good = _codec.encode_spool(TaskSpec("m:f", "b" * 32, 1.0)).message
    for i, name in enumerate(names):
        corrupted = {**good, b"task": good[b"task"].replace(b"m:f", name.encode())}
        (directory / f"uwsgi_spoolfile_on_w_{i}").write_bytes(_codec.pack_spool_file(corrupted))
    assert run("list", str(directory))[0] == 0
    assert run("list", str(directory), "--json")[0] == 0
    for task_id in ("b" * 32, "a" * 31 + "0", "9" * 32):
        for command in ("show", "cancel", "requeue"):
            assert run(command, str(directory), task_id)[0] in (0, 1)
    assert run("purge", str(directory), "--failed", "--older-than", "1h")[0] == 0
    assert run("purge", str(directory), "--failed")[0] == 0


def test_send_writes_a_task_into_a_spool_directory(spool_dir: Path) -> None:
    """send DIR module:function JSON... writes a spool file a spooler will run, and prints its id."""
    code, text = run("send", str(spool_dir), "myapp.tasks:greet", '"ada"', "3", "--kwargs", '{"loud": true}')
    assert code == 0
    task_id = text.strip()
    [path] = list(spool_dir.glob("uwsgi_spoolfile_on_*"))
    spec = _codec.decode_spool(_codec.parse_spool_file(path.read_bytes()))
    assert (spec.task_id, spec.function, spec.args, dict(spec.kwargs)) == (
        task_id,
        "myapp.tasks:greet",
        ("ada", 3),
        {"loud": True},
    )


def test_send_schedules_and_prioritises(spool_dir: Path) -> None:
    code, _ = run("send", str(spool_dir), "m:f", "--at", "+3600", "--priority", "2")
    [path] = list((spool_dir / "2").glob("uwsgi_spoolfile_on_*"))
    assert code == 0 and path.stat().st_mtime > time.time() + 3000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send", "{spool}", "no_colon"], "module:qualname"),
        (["send", "{spool}", "m:f", "not json"], "JSON value"),
        (["send", "{spool}", "m:f", "--kwargs", "[1]"], "JSON object"),
        (["send", "/no/such/dir", "m:f"], "no spool directory"),
        (["send", "uwsgi://127.0.0.1:1", "m:f"], "was not spooled"),
    ],
)
def test_send_errors(
    spool_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _ = run(*(a.replace("{spool}", str(spool_dir)) for a in argv))
    assert code == 1 and message in capsys.readouterr().err
