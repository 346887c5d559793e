#!/usr/bin/env python3
"""Checks that `dbtest unit` gave pytest's outcome to every test id of a suite.

    python3 .ci/same_outcomes.py PYTEST_JSON DBTEST_JSON

PYTEST_JSON is what benches/suites_pytest_outcomes.py wrote during a pytest run
(SUITES_OUTCOMES_JSON); DBTEST_JSON is `dbtest unit --json`'s report of the same suite.
Prints every id seen by one runner only and every id whose outcome differs; exits 1 if there
is any, 0 if the two runs agree id for id. Stdlib only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def outcomes(path: Path) -> dict[str, str]:
    return {test["id"]: test["outcome"] for test in json.loads(path.read_text(encoding="utf-8"))["tests"]}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    pytest, dbtest = (outcomes(Path(arg)) for arg in argv)
    problems = [f"only pytest ran {test_id} ({pytest[test_id]})" for test_id in sorted(pytest.keys() - dbtest.keys())]
    problems += [f"only dbtest ran {test_id} ({dbtest[test_id]})" for test_id in sorted(dbtest.keys() - pytest.keys())]
    problems += [
        f"{test_id}: pytest {pytest[test_id]}, dbtest {dbtest[test_id]}"
        for test_id in sorted(pytest.keys() & dbtest.keys())
        if pytest[test_id] != dbtest[test_id]
    ]
    for problem in problems:
        print(problem)
    print(f"{len(pytest)} ids under pytest, {len(dbtest)} under dbtest: "
          + ("the same outcome for every id" if not problems else f"{len(problems)} differ"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
