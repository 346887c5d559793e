def test_inner_suite_runs_in_a_subprocess(pytester):
    pytester.makepyfile(
        """
        def test_ok():
            assert True

        def test_bad():
            assert 1 == 2
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, failed=1)


def test_makepyfile_writes_in_its_own_folder(pytester):
    path = pytester.makepyfile(helper="VALUE = 3")
    assert path.read_text().strip() == "VALUE = 3"
    assert path.parent == pytester.path
