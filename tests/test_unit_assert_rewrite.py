"""Assertions as pytest's (DESIGN section 4c): with pytest installed, test modules, conftests
and modules named by `pytest.register_assert_rewrite` are imported through pytest's assertion
rewriter, so an assert evaluates as under pytest and fails with pytest's explanation.

tests/data/assert_rewrite: an assert that passes only when its temporaries stay alive (as the
rewritten one keeps them), comparisons pytest explains, an assert with a message, one in a
helper module registered for rewriting, a conftest `pytest_assertrepr_compare`, and a file
without asserts. Compared with each supported pytest on the same sample.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _e2e import base_env, copy_project, run_dbtest
from _pytest_venvs import PYTESTS, python_for
from test_unit_fixture_params import run_pytest

FILE = "tests/test_asserts.py"
EXPECTED = {
    f"{FILE}::test_temporaries_stay_alive_while_the_assert_runs": "passed",
    f"{FILE}::test_list_difference_is_explained": "failed",
    f"{FILE}::test_message_and_values": "failed",
    f"{FILE}::test_helper_module_is_rewritten": "failed",
    f"{FILE}::test_conftest_explains_its_own_type": "failed",
    f"{FILE}::test_passing_assert": "passed",
    "tests/test_no_asserts.py::test_raises_plainly": "failed",
    "tests/test_no_asserts.py::TestCase::test_unittest_assert": "failed",
}


@pytest.fixture(scope="module", params=PYTESTS)
def python(request: pytest.FixtureRequest) -> str:
    return python_for(request.param)


def test_asserts_evaluate_and_explain_as_pytests(python: str, tmp_path: Path) -> None:
    project = copy_project("assert_rewrite", tmp_path)
    pytest_tests = run_pytest(python, project, tmp_path)
    run = run_dbtest(project, python=python)
    run.expect_code(1)
    assert run.outcomes == EXPECTED, run.describe()
    assert {t["id"]: t["outcome"] for t in pytest_tests} == EXPECTED
    # The first line of every failure is pytest's (its crash line; pytest's report adds the
    # exception's name to an assert with a message, as dbtest does).
    for test in pytest_tests:
        message = run.by_id[test["id"]]["message"]
        first = message.splitlines()[0] if message else None
        assert first == test["message"], (test["id"], message)
    messages = {test_id.split("::")[-1]: run.by_id[test_id]["message"] for test_id in EXPECTED}
    # pytest's own explanations of a comparison, and a conftest's for its type.
    assert "At index 2 diff: 3 != 4" in messages["test_list_difference_is_explained"]
    assert messages["test_message_and_values"] == "AssertionError: the count is off\nassert 3 == 4"
    assert messages["test_helper_module_is_rewritten"].startswith("assert 3 == 4")
    assert "cents: 100 != 150" in messages["test_conftest_explains_its_own_type"]
    traceback = run.by_id[f"{FILE}::test_list_difference_is_explained"]["traceback"]
    assert ">       assert [1, 2, 3] == [1, 2, 4]" in traceback
    assert "E         At index 2 diff: 3 != 4" in traceback
    # dbtest's values of the names in the statement come after pytest's explanation.
    assert "E        where: count = 3" in run.by_id[f"{FILE}::test_message_and_values"]["traceback"]


def test_without_pytest_dbtests_own_detail_remains(tmp_path: Path) -> None:
    # A project whose Python cannot import pytest: dbtest's own explanation of the assert.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_plain.py").write_text(
        "def test_total():\n    total = 2\n    expected = 3\n    assert total == expected + 1\n"
    )
    (tmp_path / "hide_pytest").mkdir()
    # Found first on sys.path, an empty `pytest` that cannot be imported (as if not installed).
    (tmp_path / "hide_pytest" / "pytest.py").write_text("raise ImportError('pytest is not installed')\n")
    (tmp_path / "hide_pytest" / "_pytest.py").write_text("raise ImportError('pytest is not installed')\n")
    env = base_env(tmp_path, PYTHONPATH=str(tmp_path / "hide_pytest"))
    run = run_dbtest(tmp_path, env=env, python=sys.executable)
    run.expect_code(1)
    test = run.by_id["tests/test_plain.py::test_total"]
    # pytest's would read `assert 2 == (3 + 1)`.
    assert test["message"] == "assert 2 == 4", run.describe()
    assert "E        where: total = 2, expected = 3" in test["traceback"]
