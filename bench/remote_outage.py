"""Outage drill (SPEC §13): a client logs metrics while the server is stopped for 30 s, then
restarted on the same port; every point must be on the server exactly once.

Usage: ``python bench/remote_outage.py [--outage 30] [--rate 2000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import chachaml as ml
from chachaml.server.settings import Settings
from chachaml.server.testing import LiveServer
from chachaml.store import remote


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the server is down")
    parser.add_argument("--rate", type=int, default=2000, help="points logged per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["CHACHAML_OUTBOX_DIR"] = str(root / "outbox")
        live = LiveServer.start(Settings(store_url=str(root / "served.db")))
        step = 0

        def log_for(seconds: float) -> None:
            nonlocal step
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                tick = time.monotonic()
                for _ in range(args.rate // 10):
                    ml.log_metric("x", float(step), step)
                    step += 1
                time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))  # pacing, not sync

        with ml.store(live.url) as st:
            meta = st.meta
            assert isinstance(meta, remote.RemoteMetadataStore)
            run = ml.start_run(experiment="outage")
            log_for(3)
            print(f"server stopped after {step:,} points")
            live.stop()
            log_for(args.outage)
            print(f"{step:,} points logged; {meta.outbox.count()} batches in the outbox")
            live.run()
            print("server restarted on the same port")
            log_for(3)
            ml.end_run()
            print(f"run ended; outbox now holds {meta.outbox.count()} batches")
        live.stop()
        with ml.store(str(root / "served.db")) as local:
            points = ml.metric_history(run.id, "x", store=local)
        steps = [p["step"] for p in points]
        ok = steps == list(range(step)) and all(p["value"] == p["step"] for p in points)
        print(
            f"{len(points):,} of {step:,} points on the server, each once: {'OK' if ok else 'FAIL'}"
        )
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
