"""pytest configuration of dbtest's own test suite.

tests/data/ holds sample projects that the end-to-end tests run with `dbtest unit` in a
subprocess; they are not tests of this suite, so pytest must not collect them.
"""

collect_ignore = ["data"]
