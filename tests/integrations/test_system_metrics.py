"""System metrics (``ml.run(..., system_metrics=True)``): values, lifecycle, settings, GPUs.

The sampler thread is a timer; the tests never sleep to synchronise: they take samples with
``sample_once()`` or poll a condition with a deadline. GPU values come from a fake ``pynvml``
module (there is no NVIDIA GPU on the test machines); the real ``pynvml`` is used for the
"no driver" path.
"""

from __future__ import annotations

import contextvars
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

import chachaml as ml
from chachaml import sysmetrics

THREAD = "chachaml-system-metrics"
BASE_KEYS = {
    "system/cpu_percent",
    "system/process_cpu_percent",
    "system/process_rss_mb",
    "system/memory_used_mb",
    "system/memory_available_mb",
    "system/memory_used_percent",
    "system/disk_used_percent",
    "system/net_sent_mb",
    "system/net_recv_mb",
}


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sysmetrics.ENABLE_ENV, raising=False)
    monkeypatch.delenv(sysmetrics.INTERVAL_ENV, raising=False)


@pytest.fixture(autouse=True)
def _no_thread_left() -> Any:
    yield
    assert sampler_threads() == []


class Collect:
    def __init__(self) -> None:
        self.samples: list[tuple[int, dict[str, float]]] = []

    def __call__(self, values: dict[str, float], step: int) -> None:
        self.samples.append((step, values))


# -- the sampler --------------------------------------------------------------------------------
def test_sample_values_are_plausible_against_psutil_read_directly() -> None:
    sink = Collect()
    sampler = sysmetrics.SystemMetricsSampler(sink, interval=60, gpu=False)
    ballast = bytearray(50_000_000)  # RSS well above the interpreter's baseline
    ballast[::4096] = b"x" * len(ballast[::4096])
    first = sampler.sample_once()
    direct_rss = psutil.Process().memory_info().rss / 1e6
    direct_mem = psutil.virtual_memory()
    second = sampler.sample_once()
    del ballast

    assert [step for step, _ in sink.samples] == [0, 1]
    assert sink.samples[0][1] is first
    assert set(first) >= BASE_KEYS
    assert first["system/process_rss_mb"] == pytest.approx(direct_rss, rel=0.2)
    assert first["system/process_rss_mb"] > 50
    total_mb = direct_mem.total / 1e6
    assert first["system/memory_used_mb"] + first["system/memory_available_mb"] == pytest.approx(
        total_mb, rel=1e-6
    )
    assert first["system/memory_used_percent"] == pytest.approx(direct_mem.percent, abs=5)
    for key in ("system/cpu_percent", "system/memory_used_percent", "system/disk_used_percent"):
        assert 0 <= first[key] <= 100, key
    assert 0 <= first["system/process_cpu_percent"] <= 100 * (os.cpu_count() or 1)
    # I/O is cumulative since the sampler started: it never decreases.
    for key in ("system/net_sent_mb", "system/net_recv_mb"):
        assert 0 <= first[key] <= second[key]
    if "system/disk_read_mb" in first:
        assert 0 <= first["system/disk_read_mb"] <= second["system/disk_read_mb"]


def test_process_cpu_percent_sees_a_busy_loop() -> None:
    sampler = sysmetrics.SystemMetricsSampler(Collect(), interval=60, gpu=False)
    sampler.sample_once()  # reference point
    cpu0 = time.process_time()
    t0 = time.monotonic()
    while time.process_time() - cpu0 < 0.3:
        pass
    wall = time.monotonic() - t0
    busy = sampler.sample_once()["system/process_cpu_percent"]
    expected = 100 * 0.3 / wall
    assert busy == pytest.approx(expected, abs=25)


def test_thread_samples_on_its_interval_and_stops_with_a_final_sample() -> None:
    sink = Collect()
    sampler = sysmetrics.SystemMetricsSampler(sink, interval=0.02, gpu=False).start()
    assert sampler.running
    assert len(sampler_threads()) == 1
    wait_for(lambda: len(sink.samples) >= 3)
    sampler.stop()
    n = len(sink.samples)
    assert not sampler.running
    assert sampler_threads() == []
    assert [step for step, _ in sink.samples] == list(range(n))
    assert sampler.cpu_seconds > 0
    sampler.stop()  # idempotent, and no more samples
    assert len(sink.samples) == n


def test_a_failing_sink_is_logged_once_and_sampling_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def broken(values: dict[str, float], step: int) -> None:
        calls.append(step)
        raise RuntimeError("store went away")

    sampler = sysmetrics.SystemMetricsSampler(broken, interval=0.01, gpu=False)
    with caplog.at_level(logging.WARNING, logger="chachaml"):
        sampler.start()
        wait_for(lambda: len(calls) >= 3)
        sampler.stop()
    assert calls[:3] == [0, 1, 2]
    warnings = [r for r in caplog.records if "system-metrics sample failed" in r.getMessage()]
    assert len(warnings) == 1
    assert "store went away" in warnings[0].getMessage()


@pytest.mark.parametrize("bad", [0, -1, 0.001, float("nan"), float("inf"), "5", True, None])
def test_bad_intervals_are_refused(bad: Any) -> None:
    with pytest.raises(ml.InvalidInput, match="interval"):
        sysmetrics.SystemMetricsSampler(Collect(), interval=bad)


# -- GPUs ----------------------------------------------------------------------------------------
class FakeNVMLError(Exception):
    pass


class FakeNvml:
    """Stands in for ``pynvml`` with two GPUs; the second cannot report its power draw."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self) -> None:
        self.shutdown_calls = 0

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        return SimpleNamespace(gpu=[37, 90][h], memory=5)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(used=[2_000_000_000, 6_000_000_000][h], total=8_000_000_000)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return [55, 71][h]

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        if h == 1:
            raise FakeNVMLError("Not Supported")
        return 123_500  # milliwatts


def test_gpu_values_from_the_management_library() -> None:
    nvml = FakeNvml()
    sink = Collect()
    sampler = sysmetrics.SystemMetricsSampler(sink, interval=60, nvml=nvml).start()
    sampler.stop()
    ((_, values),) = sink.samples
    gpu = {k: v for k, v in values.items() if k.startswith("system/gpu")}
    assert gpu == {
        "system/gpu0_utilization_percent": 37.0,
        "system/gpu0_memory_used_mb": 2000.0,
        "system/gpu0_memory_used_percent": 25.0,
        "system/gpu0_temperature_c": 55.0,
        "system/gpu0_power_w": 123.5,
        "system/gpu1_utilization_percent": 90.0,
        "system/gpu1_memory_used_mb": 6000.0,
        "system/gpu1_memory_used_percent": 75.0,
        "system/gpu1_temperature_c": 71.0,
    }
    assert nvml.shutdown_calls == 1


def test_the_real_management_library(caplog: pytest.LogCaptureFixture) -> None:
    """Without an NVIDIA driver (the test machines): no GPU metrics and one debug line; with
    one, its GPUs are read."""
    import pynvml  # installed with the dev extra

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        gpus = 0
    else:
        gpus = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
    sink = Collect()
    with caplog.at_level(logging.DEBUG, logger="chachaml"):
        sampler = sysmetrics.SystemMetricsSampler(sink, interval=60).start()
        sampler.stop()
    values = sink.samples[0][1]
    assert set(values) >= BASE_KEYS
    found = {k.split("_")[0] for k in values if k.startswith("system/gpu")}
    assert found == {f"system/gpu{i}" for i in range(gpus)}
    if gpus == 0:
        messages = [r for r in caplog.records if "GPU" in r.getMessage()]
        assert [r.levelno for r in messages] == [logging.DEBUG]


def test_gpu_init_failure_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    class NoDriver(FakeNvml):
        def nvmlInit(self) -> None:
            raise FakeNVMLError("Driver Not Loaded")

    reader = sysmetrics.GpuReader(NoDriver())
    with caplog.at_level(logging.DEBUG, logger="chachaml"):
        assert reader.open() is False
    assert reader.read() == {}
    reader.close()
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "Driver Not Loaded" in caplog.records[0].getMessage()


def test_pynvml_not_installed_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    reader = sysmetrics.GpuReader()
    assert reader.open() is False
    assert reader.read() == {}


def test_a_system_without_disk_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Some containers show no disks (psutil returns None) or psutil cannot read them."""

    def no_disks() -> None:
        raise RuntimeError("couldn't find any physical disk")

    monkeypatch.setattr(psutil, "disk_io_counters", no_disks)
    monkeypatch.setattr(psutil, "net_io_counters", lambda: None)
    values = sysmetrics.SystemMetricsSampler(Collect(), interval=60, gpu=False).sample_once()
    assert not {"system/disk_read_mb", "system/net_sent_mb"} & set(values)
    assert "system/process_rss_mb" in values


def test_a_deleted_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    values = sysmetrics.SystemMetricsSampler(Collect(), interval=60, gpu=False).sample_once()
    assert 0 <= values["system/disk_used_percent"] <= 100  # of the root file system


# -- ml.run(..., system_metrics=True) ----------------------------------------------------------
def test_run_logs_system_metrics_and_stops_at_run_end() -> None:
    with ml.run(experiment="sys", system_metrics=True, system_metrics_interval=0.02) as run:
        sampler = run.sampler
        assert sampler is not None
        assert sampler_threads() != []
        wait_for(lambda: sampler.step >= 3)
        direct_rss = psutil.Process().memory_info().rss / 1e6
    assert sampler_threads() == []
    assert run.sampler is None
    history = ml.metric_history(run.id, "system/process_rss_mb")
    assert [p["step"] for p in history] == list(range(sampler.step))  # the final sample too
    assert history[-1]["value"] == pytest.approx(direct_rss, rel=0.2)
    stored = ml.get_run(run.id)
    assert stored["status"] == "completed"
    assert set(stored["metrics"]) >= BASE_KEYS


def test_a_run_shorter_than_the_interval_still_gets_one_sample() -> None:
    with ml.run(system_metrics=True, system_metrics_interval=3600) as run:
        pass
    history = ml.metric_history(run.id, "system/cpu_percent")
    assert [p["step"] for p in history] == [0]


def test_off_by_default() -> None:
    with ml.run() as run:
        assert run.sampler is None
        assert sampler_threads() == []
    assert not any(k.startswith("system/") for k in ml.get_run(run.id)["metrics"])


def test_sampler_stops_when_the_run_fails_or_is_interrupted() -> None:
    with (
        pytest.raises(ZeroDivisionError),
        ml.run(system_metrics=True, system_metrics_interval=0.02) as failed,
    ):
        assert sampler_threads() != []
        _ = 1 / 0
    assert sampler_threads() == []
    assert ml.get_run(failed.id)["status"] == "failed"

    with (
        pytest.raises(KeyboardInterrupt),
        ml.run(system_metrics=True, system_metrics_interval=0.02) as killed,
    ):
        raise KeyboardInterrupt
    assert sampler_threads() == []
    assert ml.get_run(killed.id)["status"] == "killed"


def test_start_run_and_end_run_by_handle_or_id() -> None:
    run = ml.start_run(system_metrics=True, system_metrics_interval=0.02)
    assert sampler_threads() != []
    ml.end_run(run.id)
    assert sampler_threads() == []
    assert "system/cpu_percent" in ml.get_run(run.id)["metrics"]

    run = ml.start_run(system_metrics=True, system_metrics_interval=0.02)
    ml.end_run(status="failed", error="diverged")
    assert sampler_threads() == []
    assert ml.get_run(run.id)["status"] == "failed"


def test_end_run_by_id_from_another_context_stops_the_sampler() -> None:
    cm = ml.run(system_metrics=True, system_metrics_interval=0.02)
    ctx = contextvars.copy_context()
    handle = ctx.run(cm.__enter__)  # the run is current only in `ctx`
    assert sampler_threads() != []
    ml.end_run(handle.id)  # not found in this context: ended by id
    assert sampler_threads() == []
    assert ml.get_run(handle.id)["status"] == "completed"
    ctx.run(cm.__exit__, None, None, None)
    assert ml.get_run(handle.id)["status"] == "completed"


def test_a_sampler_whose_run_ended_elsewhere_stops_itself() -> None:
    run = ml.start_run(system_metrics=True, system_metrics_interval=0.01)
    sampler = run.sampler
    assert sampler is not None
    run.ended = True  # as if some path had ended the run without stopping its sampler
    wait_for(lambda: sampler_threads() == [])
    assert run.sampler is None
    run.ended = False
    ml.end_run(run)
    assert ml.get_run(run.id)["status"] == "completed"


def test_a_sampler_that_cannot_start_does_not_stop_the_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """E.g. a sandbox that denies reading the process's own counters."""

    def denied(self: Any, interval: Any = None) -> float:
        raise psutil.AccessDenied(os.getpid())

    monkeypatch.setattr(psutil.Process, "cpu_percent", denied)
    with caplog.at_level(logging.WARNING, logger="chachaml"), ml.run(system_metrics=True) as run:
        assert run.sampler is None
        ml.log_metric("loss", 0.5)
    assert "system metrics could not start" in caplog.text
    assert ml.get_run(run.id)["status"] == "completed"
    assert ml.get_run(run.id)["metrics"] == {"loss": 0.5}


def test_environment_turns_it_on_for_top_level_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sysmetrics.ENABLE_ENV, "1")
    monkeypatch.setenv(sysmetrics.INTERVAL_ENV, "3600")
    with ml.run() as parent:
        assert parent.sampler is not None
        assert parent.sampler.interval == 3600
        with ml.run() as child:  # folds of a CV would only repeat the parent's samples
            assert child.sampler is None
        with ml.run(system_metrics=True) as explicit_child:
            assert explicit_child.sampler is not None
    assert "system/cpu_percent" in ml.get_run(parent.id)["metrics"]
    assert "system/cpu_percent" not in ml.get_run(child.id)["metrics"]
    with ml.run(system_metrics=False) as off:
        assert off.sampler is None


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({sysmetrics.ENABLE_ENV: "maybe"}, "CHACHAML_SYSTEM_METRICS='maybe'"),
        ({sysmetrics.ENABLE_ENV: "1", sysmetrics.INTERVAL_ENV: "fast"}, "INTERVAL='fast'"),
        ({sysmetrics.ENABLE_ENV: "on", sysmetrics.INTERVAL_ENV: "0"}, "INTERVAL='0'"),
    ],
)
def test_malformed_environment_is_refused_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], match: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ml.InvalidInput, match=match), ml.run():
        pass
    assert ml.runs() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"system_metrics": "yes"},
        {"system_metrics": True, "system_metrics_interval": 0},
        {"system_metrics": True, "system_metrics_interval": "10"},
    ],
)
def test_bad_arguments_are_refused_and_store_nothing(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ml.InvalidInput, match="system_metrics"):
        ml.start_run(**kwargs)
    assert ml.runs() == []
    assert sampler_threads() == []


def test_missing_psutil_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # `import psutil` raises ImportError
    with (
        pytest.raises(ml.InvalidInput, match=r"pip install 'chachaml\[system\]'"),
        ml.run(system_metrics=True),
    ):
        pass
    assert ml.runs() == []
    with ml.run() as run:  # without system metrics nothing needs psutil
        ml.log_metric("loss", 1.0)
    assert ml.get_run(run.id)["metrics"] == {"loss": 1.0}


def test_process_exit_stops_the_sampler_and_keeps_its_samples(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import threading
        import chachaml as ml

        run = ml.start_run(system_metrics=True, system_metrics_interval=0.02)
        print(run.id)
        # exits without end_run(): the sampler is stopped and its samples flushed at exit
        """
    )
    db = tmp_path / "exit.db"
    env = {**os.environ, "CHACHAML_STORE": str(db)}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    run_id = proc.stdout.strip()
    with ml.store(str(db)):
        assert [p["step"] for p in ml.metric_history(run_id, "system/cpu_percent")][:1] == [0]
