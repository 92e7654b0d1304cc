"""W1: time ``import MODULE`` in a fresh interpreter.

Only ``sys`` and ``time`` (both built in) are loaded before the measured import, so no library
gets a head start from modules this script needed.
"""

import sys
import time


def measure(module: str) -> float:
    t0 = time.perf_counter()
    __import__(module)
    return time.perf_counter() - t0


if __name__ == "__main__":
    seconds = measure(sys.argv[1])
    import json

    sys.stdout.write(json.dumps({"ok": True, "import_ms": seconds * 1000}) + "\n")
