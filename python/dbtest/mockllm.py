"""dbtest's local OpenAI-compatible model server, as a command:

    python -m dbtest.mockllm --script triage-server.yaml --port 8089

The script (YAML or JSON) says what the server answers: `api_key` (the key clients must
send; none accepts any), `latency_ms`, `rules` (the first whose `match` is in the last user
message gives the `reply`) and `faults` (e.g. `{status: 429, every: 5}`). It serves
`POST /v1/chat/completions` and Azure's deployment route on 127.0.0.1 only, prints its base
URL on the first line of stdout (so a caller that asked for port 0 can read the port), and
stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbtest.mockllm",
        description="dbtest's local OpenAI-compatible model server, answering from a script; "
                    "prints its base URL, Ctrl-C stops it.")
    parser.add_argument("--script", metavar="FILE", help="What to answer (YAML or JSON); default: `ok` to all.")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 [default: any free one].")
    args = parser.parse_args(argv)

    from . import _core
    from ._yaml import YamlError, read_yaml

    script: Any = {}
    if args.script is not None:
        try:
            script = read_yaml(args.script) or {}
        except YamlError as e:
            print(f"dbtest.mockllm: error: {e}", file=sys.stderr)
            return 4
    try:
        server = _core.MockLlmServer(json.dumps(script), args.port)
    except _core.UsageError as e:
        # The position is in the JSON the script became, which the user never saw.
        message = re.sub(r" at line \d+ column \d+$", "", str(e))
        print(f"dbtest.mockllm: error: {args.script}: {message}", file=sys.stderr)
        return 4
    except _core.DbtestError as e:
        print(f"dbtest.mockllm: error: {e}", file=sys.stderr)
        return 3
    print(server.url, flush=True)
    print(f"dbtest.mockllm: serving {server.url} (Azure endpoint {server.azure_endpoint}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    stop = threading.Event()
    # SIGTERM (a service manager, `kill`) stops it as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        # A timed wait, so that Ctrl-C is handled promptly on every platform.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
