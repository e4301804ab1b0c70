"""Every code block of the README and of docs/ runs, so the docs can't rot.

A block's kind is its language, or the ``<!-- test: ... -->`` line just above it:

- python: run in order in one namespace, outside uWSGI (tasks run in place), in a temporary directory;
- ``file NAME`` (python, ini): a file of the README's project (myapp.py, uwsgi.ini), which the ini test
  starts in a real uWSGI;
- ``fragment NAME``: added to that uwsgi.ini, which must still start and do what the text says;
- ``excerpt PATH``: its lines must appear in that file, in order (the README leaves comments out; the
  examples have tests of their own);
- ``pytest config`` and ``pytest``: a pytest.ini and a test module, run with pytest in the README's
  project (the plugin loaded from its entry point);
- sh: each line run by bash against a spool directory ($SPOOL, $TASK_ID, $FAILED_ID);
- ``ci``: the README's two commands; the test one must be what .ci/run runs.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from uwsgi_tasks import TaskOptionsDict, _codec
from uwsgi_tasks._run import _spooler
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """The README, then the pages of docs/ in the site's order (mkdocs.yml's nav), which is the order
    their Python blocks run in, one namespace for all."""
    nav = re.findall(r":\s*([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    assert sorted(nav) == sorted(path.name for path in DOCS.glob("*.md")), "a page missing from the nav"
    return [README, *(DOCS / name for name in nav)]


class Block(NamedTuple):
    language: str
    kind: str  # the annotation, or "" for a plain block
    code: str
    where: str  # file:line, for messages


def doc_blocks() -> list[Block]:
    blocks = []
    for page in pages():
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            fence = re.fullmatch(r"```(\w+)", lines[i])
            if fence:
                note = re.fullmatch(r"<!-- test: (.+) -->", lines[i - 1]) if i else None
                end = lines.index("```", i + 1)
                code = "\n".join(lines[i + 1 : end]) + "\n"
                where = f"{page.relative_to(ROOT)}:{i + 1}"
                blocks.append(Block(fence.group(1), note.group(1) if note else "", code, where))
                i = end
            i += 1
    return blocks


BLOCKS = doc_blocks()
KNOWN = re.compile(
    r"(python|ini|sh): ?|python: file \S+|ini: file \S+|ini: fragment \S+|(python|ini): excerpt \S+|"
    r"ini: pytest config|python: pytest|sh: ci|sh: install"
)


def of(language: str, kind: str = "") -> list[Block]:
    return [b for b in BLOCKS if b.language == language and b.kind == kind]


def files() -> dict[str, str]:
    return {b.kind.split()[1]: b.code for b in BLOCKS if b.kind.startswith("file ")}


def test_every_block_has_a_runner() -> None:
    """No block is skipped by accident: each one's kind is one this module runs."""
    assert len(BLOCKS) >= 15
    for block in BLOCKS:
        assert KNOWN.fullmatch(f"{block.language}: {block.kind}"), f"{block.where} {block.kind!r}"


def test_the_two_commands_are_the_demo_and_what_ci_runs() -> None:
    """The README starts with installing the package, and has the demo and the test commands for
    contributors; .ci/run runs the latter."""
    [block] = of("sh", "ci")
    demo, suite = (line.split("  #")[0].strip() for line in block.code.splitlines())
    assert demo == "python3 -m pip install nox && python3 -m nox -s demo"
    assert suite == "python3 -m pip install nox && python3 -m nox"
    assert suite in (ROOT / ".ci" / "run").read_text().splitlines()
    assert "def demo(" in (ROOT / "noxfile.py").read_text()
    assert BLOCKS[0] == of("sh", "install")[0]


def test_the_install_line_names_this_package_and_its_extras() -> None:
    """The README's first block installs this project by its name, with extras it has."""
    [block] = of("sh", "install")
    pyproject = (ROOT / "pyproject.toml").read_text()  # (tomllib is 3.11+)
    name = re.search(r'^name = "(.+)"$', pyproject, re.MULTILINE)
    extras = pyproject[pyproject.index("[project.optional-dependencies]") :].split("\n[")[0]
    command, _, comment = block.code.strip().partition("#")
    assert name is not None
    assert command.split() == ["python3", "-m", "pip", "install", f'"{name.group(1)}[uwsgi]"']
    named = set(re.findall(r"\b(uwsgi|redis|django)\b", comment))
    assert named == {"uwsgi", "redis", "django"}
    assert named <= set(re.findall(r"^(\w+) = \[", extras, re.MULTILINE))


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind.startswith("excerpt ")], ids=lambda b: b.where)
def test_excerpts_are_in_their_files(block: Block) -> None:
    source = iter((ROOT / block.kind.split()[1]).read_text().splitlines())
    for line in block.code.splitlines():
        assert any(line == found for found in source), f"{block.where}: {line!r} not in order"


def test_python_blocks_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain Python blocks, one after the other in one namespace (top-level await allowed)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme"}
    blocks = of("python")
    assert len(blocks) >= 6
    for block in blocks:
        code = compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # noqa: S307 -- our own README
        if inspect.iscoroutine(result):
            asyncio.run(result)


def write_project(directory: Path, extra_ini: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files().items():
        (directory / name).write_text(text + (extra_ini if name == "uwsgi.ini" else ""))
    return directory


def test_the_setup_ini_runs_the_app_and_its_tasks(tmp_path: Path, uwsgi_binary: str) -> None:
    """myapp.py and uwsgi.ini as the README shows them: the app answers, its task runs in the spooler."""
    project = write_project(tmp_path / "project")
    with UwsgiServer.from_ini(project / "uwsgi.ini", tmp_path / "base", binary=uwsgi_binary) as server:
        sent = server.get_json("/?docs")
        assert server.handle(sent["id"]).result(timeout=10) == "DOCS"


PROBE = """
import json
import os

from uwsgi_tasks import task


@task
def secret_here() -> str | None:
    return os.environ.get("UWSGITASKS_SECRET")


def application(environ, start_response):
    mule = environ.get("QUERY_STRING", "").removeprefix("mule=")
    handle = secret_here.options(mule=int(mule)).mule() if mule else secret_here.spool()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"id": handle.id, "worker": os.environ.get("UWSGITASKS_SECRET")}).encode()]
"""


def test_the_secret_fragment_works_under_strict(tmp_path: Path, uwsgi_binary: str) -> None:
    """The Security section's ini: accepted with strict = true, and the secret reaches the workers and
    the spooler (an app of the test's own reports what each process sees; tasks are signed with it)."""
    [fragment] = of("ini", "fragment secret")
    lines = [line for line in fragment.code.splitlines() if line != "[uwsgi]"]
    secret = next(line.split("=", 2)[2] for line in lines if line.startswith("env = UWSGITASKS_SECRET="))
    project = write_project(tmp_path / "project", "\n".join(lines) + "\n")
    (project / "myapp.py").write_text(PROBE)
    with UwsgiServer.from_ini(project / "uwsgi.ini", tmp_path / "base", binary=uwsgi_binary) as server:
        sent = server.get_json("/")
        assert sent["worker"] == secret
        assert server.handle(sent["id"]).result(timeout=10) == secret
        # Each mule runs a task first: a mule reloaded before its loop has started can miss the reload
        # and live on, idle, until uWSGI's reload mercy (uWSGI 2.0.31; seen once in about 500 reloads
        # under load, and never once each mule had run a task).
        for mule in (1, 2):
            ran = server.get_json(f"/?mule={mule}")
            assert server.handle(ran["id"]).result(timeout=10) == secret
        # A graceful reload re-executes the master with the environment: strict mode must still accept it.
        workers = set(server.group())
        os.kill(server.pid, signal.SIGHUP)
        wait_until(lambda: len(set(server.group()) - workers) >= 2, 30, message=server.log()[-3000:])
        again = server.get_json("/")
        assert again["worker"] == secret
        assert server.handle(again["id"]).result(timeout=10) == secret


def test_the_remote_fragment_takes_tasks_from_other_hosts(
    tmp_path: Path, uwsgi_binary: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond one machine: the setup ini plus the fragment is a host that takes tasks on its uwsgi
    socket; this process (another "host") sends one and its handle sees the result in Redis."""
    import uwsgi_tasks

    [fragment] = of("ini", "fragment remote")
    lines = [line for line in fragment.code.splitlines() if line != "[uwsgi]"]
    project = write_project(tmp_path / "project", "\n".join(lines) + "\n")
    address = f"127.0.0.1:{free_port()}"
    placeholders = {
        "private_address": address,
        "redis": redis_url.removeprefix("redis://").removesuffix("/0"),
    }
    monkeypatch.syspath_prepend(str(project))
    import myapp  # type: ignore[import-not-found] # the README's myapp.py, written just above

    server = UwsgiServer.from_ini(
        project / "uwsgi.ini", tmp_path / "base", placeholders=placeholders, binary=uwsgi_binary
    )
    with server:
        uwsgi_tasks.configure(result_store=redis_url)
        try:
            handle = myapp.shout.options(spooler=f"uwsgi://{address}").spool("far")
            assert handle.result(timeout=10) == "FAR"
        finally:
            uwsgi_tasks.configure(result_store=None)


def test_the_command_line_block_runs(tmp_path: Path, secret: str) -> None:
    """Each line of the CLI block, against a spool directory with a queued and a failed task."""
    spool = tmp_path / "spool"
    spool.mkdir()
    queued = TaskSpec("myapp:shout", "a" * 32, time.time(), args=("hi",))
    (spool / "uwsgi_spoolfile_on_docs_1").write_bytes(
        _codec.pack_spool_file(_codec.encode_spool(queued).message)
    )
    failed = TaskSpec("myapp:shout", "b" * 32, time.time(), args=("no",), attempt=3)
    path = spool / "uwsgi_spoolfile_on_docs_2"
    path.write_bytes(_codec.pack_spool_file(_codec.encode_spool(failed).message))
    _spooler.set_aside(str(path), "failed on attempt 3", failed.task_id)
    env = {
        **os.environ,
        "SPOOL": str(spool),
        "TASK_ID": queued.task_id,
        "FAILED_ID": failed.task_id,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    [block] = of("sh")
    for line in block.code.splitlines():
        run = subprocess.run(["bash", "-c", line], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, f"{line}\n{run.stdout}{run.stderr}"
        assert run.stdout.strip(), line


def test_the_pytest_blocks_pass_in_the_readme_project(pytester: pytest.Pytester) -> None:
    """The Testing section: its pytest configuration and test module, with myapp.py and uwsgi.ini."""
    write_project(pytester.path)
    [config] = of("ini", "pytest config")
    [tests] = of("python", "pytest")
    (pytester.path / "pytest.ini").write_text(config.code)
    (pytester.path / "test_app.py").write_text(tests.code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# Every public name and option of 0.7.3 (its package and README, as released on PyPI).
# uwsgi_tasks/__init__.py imported these from uwsgi_tasks.tasks, so both modules had them.
IN_BOTH_0_7_3 = [
    "Task",
    "SignalTask",
    "TimerTask",
    "CronTask",
    "TaskExecutor",
    "set_uwsgi_callbacks",
    "RetryTaskException",
    "SPOOL_OK",
    "SPOOL_RETRY",
    "SPOOL_IGNORE",
    "get_current_task",
]
DECORATORS_0_7_3 = ["task", "timer", "timer_lazy", "cron", "cron_lazy"]
NAMES_0_7_3 = [
    *(f"uwsgi_tasks.{name}" for name in [*IN_BOTH_0_7_3, "django_setup", *DECORATORS_0_7_3]),
    *(f"uwsgi_tasks.decorators.{name}" for name in DECORATORS_0_7_3),
    *(
        f"uwsgi_tasks.utils.{name}"
        for name in ["django_setup", "get_function_path", "ProxyDict", "import_by_path"]
    ),
    *(
        f"uwsgi_tasks.tasks.{name}"
        for name in [
            *IN_BOTH_0_7_3,
            *[
                "BaseTask",
                "RuntimeTask",
                "MuleTask",
                "SpoolerTask",
                "OneTimeTask",
                "ProxyDict",
                "tasks_registry",
                "saved_tasks",
                "serialize",
                "deserialize",
                "load_function",
                "manage_spool_request",
                "manage_mule_request",
                "get_free_signal",
                "UWSGI_MAXIMUM_MESSAGE_SIZE",
                "logger",
                "uwsgi",
            ],
        ]
    ),
]
OPTIONS_0_7_3 = [
    "executor",
    "retry_count",
    "retry_timeout",
    "at",
    "priority",
    "spooler",
    "spooler_return",
    "working_dir",
]
SIGNAL_OPTIONS_0_7_3 = [
    "seconds",
    "iterations",
    "target",
    "minute",
    "hour",
    "day",
    "month",
    "dayweek",
    "executor",
]


def migration_rows() -> list[list[str]]:
    text = (DOCS / "migrating.md").read_text()
    table = text[text.index("| 0.7.3 |") :].split("\n\n")[0]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table.splitlines()[2:]]


def resolves(dotted: str) -> bool:
    module, _, name = dotted.rpartition(".")
    try:
        return hasattr(__import__(module, fromlist=[name]), name)
    except ImportError:
        return False


def test_the_migration_table_covers_every_0_7_3_name_and_option() -> None:
    """Each 0.7.3 name is in the table's first column; those not marked removed import from the same
    place, and those marked removed are really gone. Each option is in a row of its own."""
    rows = migration_rows()
    listed: dict[str, bool] = {}
    for first, now, _ in rows:
        for dotted in re.findall(r"`(uwsgi_tasks\.[\w.]+)`", first):
            listed[dotted] = now.startswith("removed")
    assert set(NAMES_0_7_3) <= set(listed), set(NAMES_0_7_3) - set(listed)
    for dotted, removed in listed.items():
        assert resolves(dotted) is not removed, dotted
    options = {name for first, _, _ in rows for name in re.findall(r"option `(\w+)`", first)}
    assert options == set(OPTIONS_0_7_3) and options <= set(TaskOptionsDict.__annotations__)
    signal_row = next(first for first, _, _ in rows if first.startswith("timer/cron options"))
    assert re.findall(r"`(\w+)`", signal_row) == SIGNAL_OPTIONS_0_7_3
