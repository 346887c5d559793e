import sys

# Saved once, at import, as logging libraries do for their default output.
saved_stdout = sys.stdout
saved_stderr = sys.stderr


def say(text):
    saved_stdout.write(text + "\n")
    saved_stdout.flush()
