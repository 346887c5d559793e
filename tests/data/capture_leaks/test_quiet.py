import subprocess
import sys


def test_passing_test_prints():
    print("<passing print>")
    print("<passing print err>", file=sys.stderr)
    subprocess.run([sys.executable, "-c", "print('<passing child>')"], check=True)
