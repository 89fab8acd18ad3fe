"""
The command every hook of tests.test_fuzz runs: C{fuzz_recorder.py FILE ARG...}
appends one JSON line to FILE with the ARGs it was given and its HOOK_* environment,
so the fuzz tests can see exactly which deliveries ran and with which argv.

Standard library only, and quick to start (it runs as C{python -I -S}).
"""

import json
import os
import sys


def main() -> None:
    record = {
        "argv": sys.argv[2:],
        "env": {name: value for name, value in os.environ.items() if name.startswith("HOOK_")},
    }
    # One write of one line with O_APPEND: records never interleave.
    line = json.dumps(record).encode("ascii") + b"\n"
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
