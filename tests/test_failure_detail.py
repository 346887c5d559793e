"""Tests for python/dbtest/_failure.py (failure detail without pytest).

The module is loaded by path so these tests do not depend on the rest of the
dbtest package.  Test code lives in real .py files written to tmp_path so that
linecache/ast can read its source, exactly as for user test files.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import textwrap
from pathlib import Path


_MODULE_PATH = Path(__file__).resolve().parent.parent / "python" / "dbtest" / "_failure.py"


def _load_failure_module():
    spec = importlib.util.spec_from_file_location("dbtest_failure_under_test", _MODULE_PATH)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


failure = _load_failure_module()
describe = failure.describe

_counter = itertools.count()


def write_module(directory: Path, source: str, name: str | None = None):
    """Write ``source`` to a fresh module file in ``directory`` and import it."""
    directory.mkdir(parents=True, exist_ok=True)
    name = name or f"dbtest_fail_mod_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001
        return e
    raise AssertionError("function did not raise")


def block_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith((">", "E"))]


# --------------------------------------------------------------------------
# plain assert on a comparison
# --------------------------------------------------------------------------


def test_simple_assert_total_eq_3(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_sum():
            total = 1 + 1
            assert total == 3
        """,
    )
    exc = raised(mod.test_sum)
    message, text = describe(exc, hide_dirs=())
    assert message == "assert 2 == 3"
    path = os.path.join(str(tmp_path), mod.__name__ + ".py")
    assert f'File "{path}", line 4, in test_sum' in text
    assert "    assert total == 3\n" in text
    assert "\nAssertionError\n" in text
    assert block_lines(text) == [
        ">       assert total == 3",
        "E       assert 2 == 3",
        "E        where: total = 2",
    ]
    # the block comes after the standard traceback
    assert text.index("AssertionError") < text.index(">       assert")


def test_assert_with_expression_and_two_names(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_it():
            total = 2
            expected = 3
            assert total == expected + 1
        """,
    )
    message, text = describe(raised(mod.test_it), hide_dirs=())
    assert message == "assert 2 == 4"
    assert block_lines(text) == [
        ">       assert total == expected + 1",
        "E       assert 2 == 4",
        "E        where: total = 2, expected = 3",
    ]


def test_multiline_assert(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_multi():
            first = 10
            second = 20
            assert (
                first
                > second
            )
        """,
    )
    message, text = describe(raised(mod.test_multi), hide_dirs=())
    assert message == "assert 10 > 20"
    lines = block_lines(text)
    assert lines[:4] == [
        ">       assert (",
        ">           first",
        ">           > second",
        ">       )",
    ]
    assert "E       assert 10 > 20" in lines
    assert "E        where: first = 10, second = 20" in lines


def test_assert_in_method_and_semicolon_line(tmp_path):
    mod = write_module(
        tmp_path,
        """
        class TestThing:
            def test_m(self):
                self.value = 7
                assert True; assert self.value == 8
        """,
    )
    message, text = describe(raised(mod.TestThing().test_m), hide_dirs=())
    assert message == "assert 7 == 8"
    assert "E        where: self.value = 7" in text


def test_assert_with_message(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_msg():
            count = 4
            assert count < 3, f"too many: {count}"
        """,
    )
    message, text = describe(raised(mod.test_msg), hide_dirs=())
    assert message.splitlines()[0] == "AssertionError: too many: 4"
    assert "assert 4 < 3" in message
    assert "\nAssertionError: too many: 4\n" in text
    lines = block_lines(text)
    assert lines[0] == '>       assert count < 3, f"too many: {count}"'
    assert "E       AssertionError: too many: 4" in lines
    assert "E       assert 4 < 3" in lines
    assert "E        where: count = 4" in lines


def test_explicit_raise_assertion_error_has_no_block(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_raise():
            raise AssertionError("explicit")
        """,
    )
    message, text = describe(raised(mod.test_raise), hide_dirs=())
    assert message == "AssertionError: explicit"
    assert block_lines(text) == []


def test_names_from_globals(tmp_path):
    mod = write_module(
        tmp_path,
        """
        LIMIT = 5
        CONFIG = {"retries": 2}

        def test_glob():
            used = 9
            assert used <= LIMIT and CONFIG["retries"] == 3
        """,
    )
    message, text = describe(raised(mod.test_glob), hide_dirs=())
    assert message == "assert 9 <= 5 and 2 == 3"
    assert "E        where: used = 9, LIMIT = 5, CONFIG['retries'] = 2" in text


def test_attribute_and_subscript_values(tmp_path):
    mod = write_module(
        tmp_path,
        """
        class User:
            def __init__(self, name):
                self.name = name
            def __repr__(self):
                return f"User({self.name!r})"

        def test_attr():
            user = User("bob")
            row = {"id": 41, "tags": ["x", "y"]}
            assert user.name == "alice" or row["id"] == 42 or row["tags"][-1] == "z"
        """,
    )
    message, text = describe(raised(mod.test_attr), hide_dirs=())
    assert message == "assert 'bob' == 'alice' or 41 == 42 or 'y' == 'z'"
    assert "user.name = 'bob'" in text
    assert "row['id'] = 41" in text
    assert "row['tags'][-1] = 'y'" in text


def test_method_call_shows_object_not_bound_method(tmp_path):
    mod = write_module(
        tmp_path,
        """
        import os

        class Box:
            def __repr__(self):
                return "Box()"
            def is_full(self):
                return False

        def test_call():
            box = Box()
            p = "/definitely/not/here"
            assert box.is_full() or os.path.exists(p)
        """,
    )
    message, text = describe(raised(mod.test_call), hide_dirs=())
    assert message == "assert box.is_full() or os.path.exists('/definitely/not/here')"
    assert "E        where: box = Box(), p = '/definitely/not/here'" in text
    assert "os =" not in text


def test_len_and_builtins_skipped(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def helper():
            return 1

        def test_len():
            items = [1, 2]
            assert len(items) == 3 and helper() == 1
        """,
    )
    message, text = describe(raised(mod.test_len), hide_dirs=())
    assert message == "assert 2 == 3 and helper() == 1"
    assert "E        where: items = [1, 2]" in text
    assert "len =" not in text
    assert "helper =" not in text


def test_user_function_not_called(tmp_path):
    mod = write_module(
        tmp_path,
        """
        CALLS = []

        def check(x):
            CALLS.append(x)
            return False

        def test_fn():
            value = 3
            assert check(value)
        """,
    )
    exc = raised(mod.test_fn)
    assert mod.CALLS == [3]
    message, _ = describe(exc, hide_dirs=())
    assert message == "assert check(3)"
    assert mod.CALLS == [3]  # describe did not call check() again


def test_in_and_not_in(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_in():
            needle = "q"
            hay = ["a", "b"]
            assert needle in hay

        def test_not_in():
            needle = "b"
            hay = ["a", "b"]
            assert needle not in hay

        def test_not_in_str():
            text = "hello world"
            assert "wor" not in text
        """,
    )
    message, text = describe(raised(mod.test_in), hide_dirs=())
    assert message == "assert 'q' in ['a', 'b']"
    assert "where: needle = 'q', hay = ['a', 'b']" in text

    message, text = describe(raised(mod.test_not_in), hide_dirs=())
    assert message.splitlines()[0] == "assert 'b' not in ['a', 'b']"
    assert "'b' found at index 1" in message

    message, _ = describe(raised(mod.test_not_in_str), hide_dirs=())
    assert message.splitlines()[0] == "assert 'wor' not in 'hello world'"
    assert "found at index 6" in message


def test_is_and_is_not_and_unary(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_is():
            result = 0
            assert result is None

        def test_is_not():
            result = None
            assert result is not None

        def test_truthy():
            rows = []
            assert rows

        def test_not():
            flag = True
            assert not flag

        def test_and():
            a = 1
            b = ""
            assert a and b
        """,
    )
    assert describe(raised(mod.test_is), hide_dirs=())[0] == "assert 0 is None"
    assert describe(raised(mod.test_is_not), hide_dirs=())[0] == "assert None is not None"
    assert describe(raised(mod.test_truthy), hide_dirs=())[0] == "assert []"
    assert describe(raised(mod.test_not), hide_dirs=())[0] == "assert not True"
    message, text = describe(raised(mod.test_and), hide_dirs=())
    assert message == "assert 1 and ''"
    assert "where: a = 1, b = ''" in text


def test_list_diff_hint(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_list():
            got = [1, 2, 3]
            assert got == [1, 5, 3, 4]
        """,
    )
    message, text = describe(raised(mod.test_list), hide_dirs=())
    assert message.splitlines() == [
        "assert [1, 2, 3] == [1, 5, 3, 4]",
        "  At index 1 diff: 2 != 5",
        "  Right contains one more item: 4",
    ]
    assert "E         At index 1 diff: 2 != 5" in text


def test_tuple_list_type_mismatch_hint(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_t():
            got = (1, 2)
            assert got == [1, 2]
        """,
    )
    message, _ = describe(raised(mod.test_t), hide_dirs=())
    assert "Types differ: tuple != list" in message


def test_dict_diff_hint(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_dict():
            got = {"a": 1, "b": 2, "x": 0}
            want = {"a": 1, "b": 3, "c": 4}
            assert got == want
        """,
    )
    message, _ = describe(raised(mod.test_dict), hide_dirs=())
    lines = message.splitlines()
    assert lines[0] == "assert {'a': 1, 'b': 2, 'x': 0} == {'a': 1, 'b': 3, 'c': 4}"
    assert "  Differing items: {'b': 2} != {'b': 3}" in lines
    assert "  Left contains one more item: {'x': 0}" in lines
    assert "  Right contains one more item: {'c': 4}" in lines


def test_set_diff_hint(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_set():
            got = {1, 2}
            assert got == {2, 3}
        """,
    )
    message, _ = describe(raised(mod.test_set), hide_dirs=())
    assert "Extra items in the left set: 1" in message
    assert "Extra items in the right set: 3" in message


def test_single_line_string_hint(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_s():
            s = "hello world"
            assert s == "hello wurld"
        """,
    )
    message, _ = describe(raised(mod.test_s), hide_dirs=())
    assert message.splitlines() == [
        "assert 'hello world' == 'hello wurld'",
        "  At index 7 diff: 'o' != 'u'",
    ]


def test_multiline_string_ndiff(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_text():
            got = "alpha\\nbeta\\ngamma\\n"
            want = "alpha\\nBETA\\ngamma\\n"
            assert got == want
        """,
    )
    message, text = describe(raised(mod.test_text), hide_dirs=())
    lines = message.splitlines()
    assert lines[0] == "assert 'alpha\\nbeta\\ngamma\\n' == 'alpha\\nBETA\\ngamma\\n'"
    assert "  Diff (- left, + right):" in lines
    assert "    alpha" in lines
    assert "  - beta" in lines
    assert "  + BETA" in lines
    assert "    gamma" in lines
    assert "E         - beta" in text
    assert "E         + BETA" in text


def test_long_repr_truncated(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_long():
            big = "x" * 5000
            assert big == "y"
        """,
    )
    message, text = describe(raised(mod.test_long), hide_dirs=())
    first = message.splitlines()[0]
    assert "..." in first
    assert len(first) < 600
    where = [line for line in text.splitlines() if "where:" in line][0]
    assert len(where) < 300


def test_huge_list_repr_is_cheap_and_truncated(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_huge():
            data = list(range(1_000_000))
            assert data == []
        """,
    )
    message, _ = describe(raised(mod.test_huge), hide_dirs=())
    assert message.startswith("assert [0, 1, 2, ")
    assert len(message.splitlines()[0]) < 600


# --------------------------------------------------------------------------
# other exceptions
# --------------------------------------------------------------------------


def test_value_error_message_and_traceback(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def parse(x):
            raise ValueError("bad input")

        def test_parse():
            parse("zz")
        """,
    )
    message, text = describe(raised(mod.test_parse), hide_dirs=())
    assert message == "ValueError: bad input"
    assert text.startswith("Traceback (most recent call last):\n")
    assert ", line 6, in test_parse\n    parse(\"zz\")" in text
    assert ", line 3, in parse\n    raise ValueError(\"bad input\")" in text
    assert text.rstrip().endswith("ValueError: bad input")
    assert block_lines(text) == []


def test_exception_without_message(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_rt():
            raise RuntimeError()
        """,
    )
    message, _ = describe(raised(mod.test_rt), hide_dirs=())
    assert message == "RuntimeError"


def test_non_builtin_exception_type_name(tmp_path):
    mod = write_module(
        tmp_path,
        """
        class Outer:
            class Oops(Exception):
                pass

        def test_oops():
            raise Outer.Oops("nope")
        """,
        name="mypkg_errors_mod",
    )
    message, text = describe(raised(mod.test_oops), hide_dirs=())
    assert message == "mypkg_errors_mod.Outer.Oops: nope"
    assert "Oops: nope" in text


def test_chained_exception_from(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def load():
            return {}["missing"]

        def test_chain():
            try:
                load()
            except KeyError as e:
                raise ValueError("could not load") from e
        """,
    )
    message, text = describe(raised(mod.test_chain), hide_dirs=())
    assert message == "ValueError: could not load"
    assert "KeyError: 'missing'" in text
    assert "The above exception was the direct cause of the following exception:" in text
    assert text.index("KeyError") < text.index("ValueError: could not load")
    assert "in load" in text


def test_chained_exception_context(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_ctx():
            try:
                1 / 0
            except ZeroDivisionError:
                raise LookupError("during handling")
        """,
    )
    message, text = describe(raised(mod.test_ctx), hide_dirs=())
    assert message == "LookupError: during handling"
    assert "ZeroDivisionError: division by zero" in text
    assert "During handling of the above exception, another exception occurred:" in text


def test_assert_block_with_chained_context(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_ctx_assert():
            try:
                raise KeyError("k")
            except KeyError:
                got = 1
                assert got == 2
        """,
    )
    message, text = describe(raised(mod.test_ctx_assert), hide_dirs=())
    assert message == "assert 1 == 2"
    assert "KeyError: 'k'" in text
    assert block_lines(text)[-1] == "E        where: got = 1"


# --------------------------------------------------------------------------
# hidden frames
# --------------------------------------------------------------------------

RUNNER_SOURCE = """
def run(fn, *args):
    return fn(*args)

def check_positive(x):
    assert x > 0
    return x

def fail_internally():
    raise RuntimeError("internal")

def catch(fn, *args):
    try:
        fn(*args)
    except BaseException as e:
        return e
"""


def test_hidden_frames_are_trimmed(tmp_path):
    hidden_dir = tmp_path / "dbtest_pkg"
    runner = write_module(hidden_dir, RUNNER_SOURCE)
    user = write_module(
        tmp_path / "user",
        """
        def test_user():
            total = 2
            assert total == 3
        """,
    )

    exc = raised(runner.run, user.test_user)
    message, text = describe(exc, hide_dirs=(str(hidden_dir),))
    assert message == "assert 2 == 3"
    assert str(hidden_dir) not in text
    assert "in test_user" in text
    assert "in run" not in text
    assert block_lines(text)[0] == ">       assert total == 3"

    # without hide_dirs the runner frame is shown
    _, full = describe(exc, hide_dirs=())
    assert "in run" in full
    assert str(hidden_dir) in full

    # trailing separator and relative spelling still match
    rel = os.path.relpath(hidden_dir)
    _, text2 = describe(exc, hide_dirs=(rel + os.sep,))
    assert "in run" not in text2


def test_hidden_frames_in_chained_exceptions(tmp_path):
    hidden_dir = tmp_path / "dbtest_pkg"
    runner = write_module(hidden_dir, RUNNER_SOURCE)
    user = write_module(
        tmp_path / "user",
        """
        def test_wrap(run, fail):
            try:
                run(fail)
            except RuntimeError as e:
                raise ValueError("wrapped") from e
        """,
    )
    exc = raised(runner.run, user.test_wrap, runner.run, runner.fail_internally)
    message, text = describe(exc, hide_dirs=(str(hidden_dir),))
    assert message == "ValueError: wrapped"
    # the RuntimeError's stack is trimmed to the user frame...
    assert "RuntimeError: internal" in text
    assert "in fail_internally" not in text
    assert "in run" not in text
    assert text.count("in test_wrap") == 2


def test_all_frames_hidden_keeps_them_all(tmp_path):
    hidden_dir = tmp_path / "dbtest_pkg"
    runner = write_module(hidden_dir, RUNNER_SOURCE)

    exc = runner.catch(runner.run, runner.fail_internally)
    message, text = describe(exc, hide_dirs=(str(hidden_dir),))
    assert message == "RuntimeError: internal"
    assert "in catch" in text
    assert "in run" in text
    assert "in fail_internally" in text


def test_assert_inside_hidden_helper_gives_no_user_block(tmp_path):
    hidden_dir = tmp_path / "dbtest_pkg"
    runner = write_module(hidden_dir, RUNNER_SOURCE)
    user = write_module(
        tmp_path / "user",
        """
        def test_uses_helper(check):
            n = -1
            check(n)
        """,
    )
    exc = raised(user.test_uses_helper, runner.check_positive)
    message, text = describe(exc, hide_dirs=(str(hidden_dir),))
    assert "in check_positive" not in text
    assert "in test_uses_helper" in text
    assert message == "AssertionError"
    assert block_lines(text) == []


def test_assert_in_user_helper_uses_innermost_frame(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def helper(value):
            assert value == 10

        def test_outer():
            v = 9
            helper(v)
        """,
    )
    message, text = describe(raised(mod.test_outer), hide_dirs=())
    assert message == "assert 9 == 10"
    assert block_lines(text)[-1] == "E        where: value = 9"


# --------------------------------------------------------------------------
# robustness
# --------------------------------------------------------------------------


def test_repr_that_raises(tmp_path):
    mod = write_module(
        tmp_path,
        """
        class Evil:
            def __repr__(self):
                raise RuntimeError("no repr for you")
            def __eq__(self, other):
                return False
            __hash__ = None

        def test_evil():
            obj = Evil()
            assert obj == 1
        """,
    )
    message, text = describe(raised(mod.test_evil), hide_dirs=())
    assert message.startswith("assert <Evil object at 0x")
    assert "repr() failed: RuntimeError" in message
    assert "where: obj = <Evil object at" in text


def test_exception_str_that_raises(tmp_path):
    mod = write_module(
        tmp_path,
        """
        class BadStr(Exception):
            def __str__(self):
                raise RuntimeError("boom")

        def test_bad():
            raise BadStr()
        """,
    )
    message, text = describe(raised(mod.test_bad), hide_dirs=())
    assert "BadStr" in message
    assert "in test_bad" in text


def test_property_that_raises_is_left_as_source(tmp_path):
    mod = write_module(
        tmp_path,
        """
        class Obj:
            calls = 0
            def __repr__(self):
                return "Obj()"
            @property
            def flaky(self):
                Obj.calls += 1
                if Obj.calls > 1:
                    raise RuntimeError("second access fails")
                return 0

        def test_prop():
            o = Obj()
            assert o.flaky == 1
        """,
    )
    message, text = describe(raised(mod.test_prop), hide_dirs=())
    # o.flaky cannot be re-evaluated: shown as source on the base object
    assert message == "assert Obj().flaky == 1"
    assert "where: o = Obj()" in text


def test_unevaluable_subexpression_kept_as_source(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def compute(v):
            return v * 2

        def test_calls():
            v = 3
            assert compute(v) + 1 == v
        """,
    )
    message, _ = describe(raised(mod.test_calls), hide_dirs=())
    assert message == "assert compute(3) + 1 == 3"


def test_defaultdict_not_mutated(tmp_path):
    mod = write_module(
        tmp_path,
        """
        import collections

        def test_dd():
            d = collections.defaultdict(list)
            assert d.get("k") and d["k"]
        """,
    )
    exc = raised(mod.test_dd)
    tb = exc.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    d = tb.tb_frame.f_locals["d"]
    message, _ = describe(exc, hide_dirs=())
    assert message == "assert d.get('k') and defaultdict(<class 'list'>, {})['k']"
    assert "k" not in d


def test_comprehension_variables_not_in_where(tmp_path):
    mod = write_module(
        tmp_path,
        """
        x = "global x"

        def test_all():
            values = [1, -2]
            assert all(x > 0 for x in values)
        """,
    )
    message, text = describe(raised(mod.test_all), hide_dirs=())
    assert message == "assert all((x > 0 for x in [1, -2]))"
    assert "where: values = [1, -2]" in text
    assert "global x" not in text


def test_source_unavailable(tmp_path):
    namespace: dict = {}
    exec(compile("def test_dyn():\n    total = 2\n    assert total == 3\n", "<dynamic>", "exec"), namespace)
    exc = raised(namespace["test_dyn"])
    message, text = describe(exc, hide_dirs=())
    assert message == "AssertionError"
    assert "in test_dyn" in text
    assert block_lines(text) == []


def test_exception_without_traceback():
    exc = ValueError("never raised")
    message, text = describe(exc, hide_dirs=("/nonexistent",))
    assert message == "ValueError: never raised"
    assert "ValueError: never raised" in text


def test_assertion_error_without_traceback():
    message, text = describe(AssertionError(), hide_dirs=())
    assert message == "AssertionError"
    assert "AssertionError" in text


def test_exception_group(tmp_path):
    mod = write_module(
        tmp_path,
        """
        def test_group():
            raise ExceptionGroup("many", [ValueError("a"), KeyError("b")])
        """,
    )
    message, text = describe(raised(mod.test_group), hide_dirs=())
    assert message == "ExceptionGroup: many (2 sub-exceptions)"
    assert "ValueError: a" in text


def test_describe_never_raises_on_internal_failure(tmp_path, monkeypatch):
    mod = write_module(
        tmp_path,
        """
        def test_x():
            raise ValueError("bad input")
        """,
    )
    exc = raised(mod.test_x)

    def boom(*a, **k):
        raise RuntimeError("internal bug")

    monkeypatch.setattr(failure, "_describe", boom)
    message, text = describe(exc, hide_dirs=())
    assert message == "ValueError: bad input"
    assert "Traceback (most recent call last)" in text
    assert "ValueError: bad input" in text


def test_describe_never_raises_when_assert_analysis_fails(tmp_path, monkeypatch):
    mod = write_module(
        tmp_path,
        """
        def test_x():
            total = 2
            assert total == 3
        """,
    )
    exc = raised(mod.test_x)

    def boom(*a, **k):
        raise RuntimeError("internal bug")

    monkeypatch.setattr(failure, "_find_assert", boom)
    message, text = describe(exc, hide_dirs=())
    assert message == "AssertionError"
    assert "in test_x" in text


def test_describe_never_raises_on_weird_inputs(tmp_path):
    class Weird(Exception):
        def __str__(self):
            raise SystemError("str fails")

        @property
        def args(self):
            raise RuntimeError("args fails")

    for exc in (Weird(), AssertionError(object()), KeyboardInterrupt(), SystemExit(3)):
        message, text = describe(exc, hide_dirs=None)  # type: ignore[arg-type]
        assert isinstance(message, str) and message
        assert isinstance(text, str)


def test_async_test_function(tmp_path):
    import asyncio

    mod = write_module(
        tmp_path,
        """
        import asyncio

        async def test_async():
            await asyncio.sleep(0)
            rows = [1, 2]
            assert len(rows) == 3
        """,
    )
    exc = raised(asyncio.run, mod.test_async())
    asyncio_dir = os.path.dirname(asyncio.__file__)
    message, text = describe(exc, hide_dirs=(asyncio_dir,))
    assert message == "assert 2 == 3"
    assert "in test_async" in text
    assert asyncio_dir not in text
    assert block_lines(text) == [
        ">       assert len(rows) == 3",
        "E       assert 2 == 3",
        "E        where: rows = [1, 2]",
    ]

