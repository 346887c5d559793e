"""Doctests as pytest's doctest plugin collects and judges them (DESIGN section 4b): the
docstrings of a module (`--doctest-modules`) and text files (`--doctest-glob`, default
`test*.txt`), one item per docstring with examples, named as pytest names it (`mod.func`,
`test_x.txt`), with the `doctest_optionflags` setting. pytest's own checker and runner are
used when pytest is installed (its NUMBER / ALLOW_UNICODE / ALLOW_BYTES flags), the standard
library's otherwise."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .._marks import Marks, Skipped
from .collect import Item

# Files pytest never reads doctests from, even with --doctest-modules.
NOT_DOCTEST_MODULES = ("__main__.py",)


class DoctestFailure(AssertionError):
    """A doctest example's output differed from the expected, or it raised."""


def _flag_lookup() -> dict[str, int]:
    pytest_doctest = _pytest_doctest()
    if pytest_doctest is not None:
        return pytest_doctest._get_flag_lookup()
    return dict(doctest.OPTIONFLAGS_BY_NAME)


def _pytest_doctest() -> Any:
    try:
        import _pytest.doctest
    except ImportError:
        return None
    return _pytest.doctest


def optionflags(configured: str | None) -> int:
    """`doctest_optionflags` (pytest's default: ELLIPSIS), as doctest's flag bits."""
    names = configured.split() if configured is not None else ["ELLIPSIS"]
    table = _flag_lookup()
    flags = 0
    for name in names:
        if name not in table:
            raise ValueError(f"doctest_optionflags: unknown flag {name!r} (known: {', '.join(sorted(table))})")
        flags |= table[name]
    return flags


def _runner(flags: int) -> doctest.DocTestRunner:
    pytest_doctest = _pytest_doctest()
    if pytest_doctest is not None:
        runner: doctest.DocTestRunner = pytest_doctest._get_runner(
            verbose=False, optionflags=flags, checker=pytest_doctest._get_checker(), continue_on_failure=False)
        return runner
    return doctest.DebugRunner(verbose=False, optionflags=flags)


def _describe(error: BaseException) -> str:
    if isinstance(error, doctest.DocTestFailure):
        example = error.example
        return (f"{error.test.name}, line {(error.test.lineno or 0) + example.lineno + 1}: "
                f"{example.source.strip()}\nExpected:\n{example.want.rstrip()}\nGot:\n{error.got.rstrip()}")
    if isinstance(error, doctest.UnexpectedException):
        example = error.example
        kind, value, _ = error.exc_info
        return (f"{error.test.name}, line {(error.test.lineno or 0) + example.lineno + 1}: "
                f"{example.source.strip()}\nUNEXPECTED EXCEPTION: {kind.__name__}: {value}")
    return str(error)


def _run(test: doctest.DocTest, runner: doctest.DocTestRunner) -> Callable[[], None]:
    def run_doctest() -> None:
        if all(example.options.get(doctest.SKIP, False) for example in test.examples):
            raise Skipped("all tests skipped by +SKIP option")
        flags = runner.optionflags
        failures: list[Any] = []
        try:
            runner.run(test, out=failures)  # type: ignore[arg-type]
        except (doctest.DocTestFailure, doctest.UnexpectedException) as error:
            raise DoctestFailure(_describe(error)) from None
        finally:
            # The runner may raise before doctest restores its option flags.
            runner.optionflags = flags
        if failures:
            raise DoctestFailure("\n\n".join(_describe(f) for f in failures))

    run_doctest.__qualname__ = run_doctest.__name__ = test.name
    return run_doctest


def _item(test: doctest.DocTest, runner: doctest.DocTestRunner, rel: str) -> Item:
    return Item(
        func=_run(test, runner), name=test.name, line=(test.lineno or 0) + 1, suite=None, param_id=None,
        marks=Marks(), fixture_names=[], argnames=[], is_async=False, file_key=rel,
    )


def module_items(module: ModuleType, rel: str, configured_flags: str | None) -> list[Item]:
    """One item per docstring of `module` that holds examples, in pytest's order."""
    runner = _runner(optionflags(configured_flags))
    finder = doctest.DocTestFinder()
    return [_item(test, runner, rel) for test in finder.find(module, module.__name__) if test.examples]


def textfile_items(path: str, rel: str, configured_flags: str | None, encoding: str | None) -> list[Item]:
    """The one item of a doctest text file (if it holds examples), named after the file."""
    file = Path(path)
    text = file.read_text(encoding or "utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "__main__"}, file.name, str(file), 0)
    if not test.examples:
        return []
    return [_item(test, _runner(optionflags(configured_flags)), rel)]


def is_doctest_module(path: str) -> bool:
    """pytest reads doctests of every `.py` file but `__main__.py` and a setuptools
    `setup.py`."""
    name = Path(path).name
    if name in NOT_DOCTEST_MODULES:
        return False
    if name == "setup.py":
        try:
            source = Path(path).read_bytes()
        except OSError:
            return True
        return not (b"setuptools" in source or b"distutils" in source)
    return True

