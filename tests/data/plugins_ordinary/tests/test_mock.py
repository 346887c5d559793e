import os


def read_home() -> str:
    return os.path.expanduser("~")


def test_patch_and_assert_called(mocker):
    patched = mocker.patch("os.path.expanduser", return_value="/home/sample")
    assert read_home() == "/home/sample"
    patched.assert_called_once_with("~")


def test_spy_sees_real_calls(mocker):
    spy = mocker.spy(os.path, "join")
    assert os.path.join("a", "b") == os.path.join("a", "b")
    assert spy.call_count == 2


def test_patches_are_undone_after_each_test():
    assert not hasattr(os.path.expanduser, "assert_called_once_with")


def test_mock_failure_fails(mocker):
    stub = mocker.stub(name="callback")
    stub("unexpected")
    stub.assert_not_called()
