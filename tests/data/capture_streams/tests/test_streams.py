import io
import sys

import pytest

from console import saved_stdout, say


def test_reading_stdin_raises():
    with pytest.raises(OSError):
        sys.stdin.read()
    with pytest.raises(OSError):
        sys.stdin.readline()


def test_reading_stdin_bytes_raises():
    with pytest.raises(OSError):
        sys.stdin.buffer.read()


def test_stdin_is_no_terminal():
    assert not sys.stdin.isatty()


def test_patch_stdout_over_capsys(monkeypatch, capsys):
    # Torn down in reverse: capsys closes its file, then monkeypatch puts that file back.
    replacement = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replacement)
    print("to the replacement")
    assert replacement.getvalue() == "to the replacement\n"
    assert capsys.readouterr().out == ""


def test_print_after_the_patch():
    print("still printing")
    sys.stdout.write("and writing\n")
    sys.stdout.buffer.write(b"and bytes\n")


def test_saved_stream_after_the_patch():
    say("through the saved stream")
    assert saved_stdout.writable()


def test_saved_stream_seen_by_capsys(capsys):
    print("printed")
    assert capsys.readouterr().out == "printed\n"
