"""Run as a program by a test (python -m shapes.report): measured in the subprocess."""
import sys


def describe(kind):
    if kind == "square":
        return "four equal sides"
    return "something else"


if __name__ == "__main__":
    print(describe(sys.argv[1]))
