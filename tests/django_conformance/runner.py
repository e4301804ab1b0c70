"""Run Django's ``tasks`` tests in this process and report every test's outcome.

Django is set up with ``tests.django_conformance.settings``; the tests come from a substituted copy
(`tests.django_conformance.sdist.substituted_copy`) on ``sys.path``. Outside uWSGI this module runs as
``python -m tests.django_conformance.runner TESTS_DIR REPORT_JSON``; inside uWSGI the conformance app
(`tests.django_conformance.wsgi`) calls `run` in a worker.

A test is skipped only when it checks that the backend *lacks* a feature ImmediateBackend lacks
(`ASSUMES`) and SpoolerBackend's flag, read at run time, says it has it; inside uWSGI, also the tests
in `NOT_APPLICABLE_IN_UWSGI`, each with its reason. Everything else runs unchanged.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import unittest
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

SETTINGS = "tests.django_conformance.settings"
#: Inside uWSGI: the directory holding the substituted copy of Django's ``tasks`` package.
TESTS_ENV = "CONFORMANCE_TESTS"
#: Inside uWSGI: the directory the spooler writes its log records to (see `backends`).
LOGS_ENV = "CONFORMANCE_LOGS"
FLAGS = ("supports_defer", "supports_async_task", "supports_get_result", "supports_priority")

_IMMEDIATE = "tasks.test_immediate_backend.ImmediateBackendTestCase."

#: Django's tests of what ImmediateBackend does *not* support: the flag each assumes, and its value
#: there. Such a test runs when SpoolerBackend's flag has that value too, and is skipped otherwise.
ASSUMES: dict[str, tuple[str, bool]] = {
    _IMMEDIATE + "test_cannot_get_result": ("supports_get_result", False),
    _IMMEDIATE + "test_cannot_refresh_result": ("supports_get_result", False),
    _IMMEDIATE + "test_cannot_pass_run_after": ("supports_defer", False),
}

#: Inside uWSGI: tests that assume the task runs in the process that enqueues it, and what covers
#: their intent instead.
NOT_APPLICABLE_IN_UWSGI: dict[str, str] = {
    _IMMEDIATE + "test_throws_keyboard_interrupt": (
        "asserts that enqueue() itself raises the task's KeyboardInterrupt, which only a backend that "
        "runs the task in the caller can do; inside uWSGI the spooler runs it, and "
        "test_keyboard_interrupt_fails_once_inside_uwsgi checks that it ends FAILED exactly once"
    ),
}

_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType]
Report: TypeAlias = dict[str, Any]


def backend_flags() -> dict[str, bool]:
    """SpoolerBackend's capability flags in this process (inside uWSGI: this instance's)."""
    from uwsgi_tasks.contrib.django import SpoolerBackend

    backend = SpoolerBackend("default", {})
    return {flag: bool(getattr(backend, flag)) for flag in FLAGS}


class _Collect(unittest.TestResult):
    """Each test's outcome: passed, skipped (with the reason) or failed (with every traceback,
    sub-tests included)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, dict[str, Any]] = {}

    def _entry(self, test: unittest.TestCase) -> dict[str, Any]:
        return self.outcomes.setdefault(test.id(), {"outcome": "passed", "details": []})

    def _fail(self, test: unittest.TestCase, detail: str) -> None:
        entry = self._entry(test)
        entry["outcome"] = "failed"
        entry["details"].append(detail)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._entry(test)

    def addError(self, test: unittest.TestCase, err: _ExcInfo | tuple[None, None, None]) -> None:
        super().addError(test, err)
        self._fail(test, "".join(traceback.format_exception(*err)))

    def addFailure(self, test: unittest.TestCase, err: _ExcInfo | tuple[None, None, None]) -> None:
        super().addFailure(test, err)
        self._fail(test, "".join(traceback.format_exception(*err)))

    def addSubTest(
        self,
        test: unittest.TestCase,
        subtest: unittest.TestCase,
        err: _ExcInfo | tuple[None, None, None] | None,
    ) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(test, f"{subtest.id()}:\n" + "".join(traceback.format_exception(*err)))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        entry = self._entry(test)
        entry["outcome"] = "skipped"
        entry["details"].append(reason)

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._fail(test, "unexpected success of a test marked expectedFailure")


def _tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


def _skip(test: unittest.TestCase, reason: str) -> None:
    """Have *test* report a skip with *reason* instead of running (its class is left as it is)."""

    @unittest.skip(reason)
    def skipped() -> None:  # pragma: no cover -- never called: unittest sees the skip mark
        raise AssertionError("skipped")

    setattr(test, test._testMethodName, skipped)


def skip_reasons(flags: Mapping[str, bool], not_applicable: Mapping[str, str]) -> dict[str, str]:
    """The tests this run skips, with the reason each is skipped."""
    reasons = {}
    for test_id, (flag, assumed) in ASSUMES.items():
        if flags[flag] != assumed:
            reasons[test_id] = f"flag: assumes {flag}={assumed}; SpoolerBackend has {flag}={flags[flag]}"
    for test_id, why in not_applicable.items():
        reasons[test_id] = f"not applicable: {why}"
    return reasons


def run(tests_dir: Path, *, not_applicable: Mapping[str, str] | None = None) -> Report:
    """Run the ``tasks`` package found in *tests_dir* with Django's test runner's environment and
    databases; the report: the flags, the skips made, and every test's outcome."""
    import django
    from django.test.runner import DiscoverRunner

    flags = backend_flags()
    reasons = skip_reasons(flags, not_applicable or {})
    runner = DiscoverRunner(top_level=str(tests_dir), verbosity=0, interactive=False)
    suite = runner.build_suite(["tasks"])
    found = {test.id() for test in _tests(suite)}
    for test in _tests(suite):
        if test.id() in reasons:
            _skip(test, reasons[test.id()])
    result = _Collect()
    runner.setup_test_environment()
    try:
        old_config = runner.setup_databases()
        try:
            suite.run(result)
        finally:
            runner.teardown_databases(old_config)
    finally:
        runner.teardown_test_environment()
    return {
        "django": django.get_version(),
        "flags": flags,
        "skips": reasons,
        "unknown": sorted((set(ASSUMES) | set(not_applicable or {})) - found),  # tables naming no test
        "tests": result.outcomes,
        "run": result.testsRun,
    }


def main(argv: list[str]) -> int:
    tests_dir, report_file = Path(argv[0]), Path(argv[1])
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    sys.path.insert(0, str(tests_dir))
    import django

    django.setup()
    report_file.write_text(json.dumps(run(tests_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
