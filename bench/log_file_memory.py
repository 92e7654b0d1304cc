"""Peak-RSS cost of ``ml.log_file`` on a large file (default 1 GiB).

    python bench/log_file_memory.py            # 1 GiB
    python bench/log_file_memory.py --mib 256

The measurement runs in a fresh subprocess: the file is created sparse (no RAM needed), the
store is warmed up with a tiny artifact, then ``ru_maxrss`` is read before and after
``log_file``. The difference is the peak memory that logging the file added.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def measure(size: int) -> dict[str, float]:
    """In this process: log a ``size``-byte file and return the peak-RSS delta (MiB)."""
    import chachaml as ml

    with tempfile.TemporaryDirectory(prefix="chachaml-memory-") as tmp:
        src = os.path.join(tmp, "big.bin")
        with open(src, "wb") as f:
            f.truncate(size)  # sparse: reading it yields zeros without using memory
        with ml.store(os.path.join(tmp, "m.db")), ml.run():
            ml.log_artifact("warm-up", b"x")
            ml.log_file("warm-up.bin", __file__)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            meta = ml.log_file("big.bin", src)
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert meta["size"] == size
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return {
        "file_mib": size / 2**20,
        "peak_rss_before_mib": before * scale / 2**20,
        "peak_rss_after_mib": after * scale / 2**20,
        "peak_rss_delta_mib": (after - before) * scale / 2**20,
        "seconds": seconds,
        "mib_per_s": size / 2**20 / seconds,
    }


def run_in_subprocess(size: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(size)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return
    result = run_in_subprocess(args.mib * 2**20)
    print(
        f"log_file of {result['file_mib']:.0f} MiB: "
        f"peak RSS +{result['peak_rss_delta_mib']:.1f} MiB "
        f"({result['peak_rss_before_mib']:.1f} -> {result['peak_rss_after_mib']:.1f} MiB), "
        f"{result['seconds']:.2f} s ({result['mib_per_s']:.0f} MiB/s)"
    )


if __name__ == "__main__":
    main()
