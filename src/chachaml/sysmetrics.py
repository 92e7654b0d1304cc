"""System metrics: a background sampler of CPU, memory, disk, network and NVIDIA GPUs.

``ml.run(..., system_metrics=True)`` (or ``CHACHAML_SYSTEM_METRICS=1``) starts a
:class:`SystemMetricsSampler` for the run: a daemon thread that wakes every ``interval`` seconds
(``CHACHAML_SYSTEM_METRICS_INTERVAL``, default :data:`DEFAULT_INTERVAL`), reads the counters and
hands them to a ``sink`` (the run's ``log_metrics``) as metrics named ``system/...``, with the
sample number as the step. It takes one last sample when the run ends and is joined there, so
no thread outlives its run.

Sizes are in megabytes of 10**6 bytes (``_mb``); disk and network I/O are cumulative since the
sampler started. This module needs ``psutil`` (``pip install 'chachaml[system]'``); GPUs are read
through NVIDIA's management library (``pynvml``, from ``nvidia-ml-py``) when it is importable and
a driver answers, and are silently left out otherwise.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from chachaml.errors import InvalidInput

__all__ = [
    "DEFAULT_INTERVAL",
    "ENABLE_ENV",
    "INTERVAL_ENV",
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "GpuReader",
    "Sink",
    "SystemMetricsSampler",
    "require_psutil",
    "settings",
    "stop_all",
]

ENABLE_ENV = "CHACHAML_SYSTEM_METRICS"
INTERVAL_ENV = "CHACHAML_SYSTEM_METRICS_INTERVAL"
#: Seconds between samples by default. One sample costs about a millisecond of CPU (see
#: ``bench/system_metrics_overhead.py``), so 10 s stays far below 1 % of one core.
DEFAULT_INTERVAL = 10.0
MIN_INTERVAL = 0.01
MAX_INTERVAL = 86_400.0
MB = 1_000_000.0

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_log = logging.getLogger("chachaml")

#: Receives one sample: ``{"system/cpu_percent": 12.5, ...}`` and the sample number (step).
Sink = Callable[[dict[str, float], int], None]


def require_psutil() -> Any:
    """The ``psutil`` module, or ``InvalidInput`` saying how to install it."""
    try:
        import psutil
    except ImportError as exc:
        raise InvalidInput(
            "system metrics need psutil: pip install 'chachaml[system]' "
            "(or turn them off: system_metrics=False / unset CHACHAML_SYSTEM_METRICS)"
        ) from exc
    return psutil


def _interval(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{what} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not (math.isfinite(seconds) and MIN_INTERVAL <= seconds <= MAX_INTERVAL):
        raise InvalidInput(
            f"{what} must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds, got {value!r}"
        )
    return seconds


def settings(enabled: bool | None, interval: float | None) -> float | None:
    """The sampling interval a run should use, or None when system metrics are off.

    ``enabled``/``interval`` are a run's arguments; ``None`` means "from the environment"
    (``CHACHAML_SYSTEM_METRICS`` = 1/true/yes/on or 0/false/no/off,
    ``CHACHAML_SYSTEM_METRICS_INTERVAL`` in seconds). Malformed values raise ``InvalidInput``.
    """
    if enabled is None:
        raw = os.environ.get(ENABLE_ENV, "").strip().lower()
        if raw in _TRUE:
            enabled = True
        elif raw in _FALSE:
            enabled = False
        else:
            raise InvalidInput(
                f"{ENABLE_ENV}={os.environ.get(ENABLE_ENV)!r}: expected 1/true/yes/on or "
                "0/false/no/off"
            )
    elif not isinstance(enabled, bool):
        raise InvalidInput(f"system_metrics must be True, False or None, got {enabled!r}")
    if interval is not None:
        seconds = _interval(interval, "system_metrics_interval")
    else:
        raw_interval = os.environ.get(INTERVAL_ENV, "").strip()
        if raw_interval:
            try:
                parsed = float(raw_interval)
            except ValueError:
                parsed = math.nan
            seconds = _interval(parsed, f"{INTERVAL_ENV}={raw_interval!r}")
        else:
            seconds = DEFAULT_INTERVAL
    return seconds if enabled else None


class GpuReader:
    """Reads NVIDIA GPUs through ``pynvml``; empty when the library or a driver is missing."""

    def __init__(self, nvml: Any = None) -> None:
        self._nvml = nvml
        self._handles: list[Any] = []
        self.available = False

    def open(self) -> bool:
        """Initialise NVML; False (with one debug log line) when there is no usable GPU."""
        nvml = self._nvml
        if nvml is None:
            try:
                import pynvml
            except ImportError:
                _log.debug("chachaml: pynvml is not installed; no GPU metrics")
                return False
            nvml = pynvml
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            _log.debug("chachaml: NVIDIA management library unavailable (%s); no GPU metrics", exc)
            return False
        self._nvml = nvml
        self.available = True
        return True

    def read(self) -> dict[str, float]:
        """``system/gpu{i}_...`` values of every GPU; a field a GPU cannot report is left out."""
        out: dict[str, float] = {}
        if not self.available:
            return out
        nvml = self._nvml
        for i, handle in enumerate(self._handles):
            prefix = f"system/gpu{i}_"
            # A field this GPU (or driver) does not support raises NVMLError: leave it out.
            with contextlib.suppress(Exception):
                out[prefix + "utilization_percent"] = float(
                    nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                )
            with contextlib.suppress(Exception):
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                out[prefix + "memory_used_mb"] = mem.used / MB
                if mem.total:
                    out[prefix + "memory_used_percent"] = 100.0 * mem.used / mem.total
            with contextlib.suppress(Exception):
                out[prefix + "temperature_c"] = float(
                    nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
                )
            with contextlib.suppress(Exception):
                out[prefix + "power_w"] = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        return out

    def close(self) -> None:
        if self.available:
            self.available = False
            try:
                self._nvml.nvmlShutdown()
            except Exception as exc:
                _log.debug("chachaml: nvmlShutdown failed: %s", exc)


def _counters(read: Callable[[], Any]) -> Any:
    """I/O counters, or None where the system has none (some containers) or cannot say."""
    try:
        return read()
    except Exception:  # e.g. RuntimeError "couldn't find any physical disk" on some systems
        return None


_LIVE: weakref.WeakSet[SystemMetricsSampler] = weakref.WeakSet()
_atexit_registered = False


class SystemMetricsSampler:
    """Samples system metrics every ``interval`` seconds on a daemon thread into ``sink``.

    ``start()`` primes the counters and starts the thread; ``stop()`` takes a final sample and
    joins the thread. ``sample_once()`` takes one sample in the calling thread (deterministic
    tests, benchmarks). ``cpu_seconds`` is the CPU time the sampling thread has used.
    """

    def __init__(
        self,
        sink: Sink,
        interval: float = DEFAULT_INTERVAL,
        *,
        gpu: bool = True,
        nvml: Any = None,
    ) -> None:
        self._psutil = require_psutil()
        self.interval = _interval(interval, "interval")
        self.sink = sink
        self.step = 0
        self.cpu_seconds = 0.0
        self._gpu = GpuReader(nvml) if gpu else None
        self._proc = self._psutil.Process()
        self._max_process_cpu = 100.0 * (self._psutil.cpu_count() or 1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one sample at a time (thread, final sample, tests)
        self._disk0: Any = None
        self._net0: Any = None
        self._primed = False
        self._sink_failed = False
        try:
            self._disk_path = os.getcwd()
        except OSError:  # the working directory was deleted
            self._disk_path = os.path.abspath(os.sep)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _prime(self) -> None:
        ps = self._psutil
        ps.cpu_percent(interval=None)  # the first call only sets the reference point
        self._proc.cpu_percent(interval=None)
        self._disk0 = _counters(ps.disk_io_counters)
        self._net0 = _counters(ps.net_io_counters)
        if self._gpu is not None:
            self._gpu.open()
        self._primed = True

    def read(self) -> dict[str, float]:
        """One sample of every available value (no sink call, no step)."""
        if not self._primed:
            self._prime()
        ps = self._psutil
        proc = self._proc
        vm = ps.virtual_memory()
        out = {
            "system/cpu_percent": float(ps.cpu_percent(interval=None)),
            # The OS counts CPU time in ticks (10 ms on Linux): over a very short window one tick
            # can read as more than all cores; clamp to what the machine can do.
            "system/process_cpu_percent": min(
                float(proc.cpu_percent(interval=None)), self._max_process_cpu
            ),
            "system/process_rss_mb": proc.memory_info().rss / MB,
            "system/memory_used_mb": (vm.total - vm.available) / MB,
            "system/memory_available_mb": vm.available / MB,
            "system/memory_used_percent": float(vm.percent),
        }
        with contextlib.suppress(OSError):  # the working directory went away
            out["system/disk_used_percent"] = float(ps.disk_usage(self._disk_path).percent)
        disk = _counters(ps.disk_io_counters)
        if disk is not None and self._disk0 is not None:  # None: no disks visible (containers)
            out["system/disk_read_mb"] = (disk.read_bytes - self._disk0.read_bytes) / MB
            out["system/disk_write_mb"] = (disk.write_bytes - self._disk0.write_bytes) / MB
        net = _counters(ps.net_io_counters)
        if net is not None and self._net0 is not None:
            out["system/net_sent_mb"] = (net.bytes_sent - self._net0.bytes_sent) / MB
            out["system/net_recv_mb"] = (net.bytes_recv - self._net0.bytes_recv) / MB
        if self._gpu is not None:
            out.update(self._gpu.read())
        return out

    def sample_once(self) -> dict[str, float]:
        """Take one sample, hand it to the sink at the next step and return it."""
        with self._lock:
            values = self.read()
            step = self.step
            self.step += 1
            self.sink(values, step)
            return values

    def _safe_sample(self) -> None:
        try:
            self.sample_once()
        except Exception as exc:  # never let a sampling error escape into training code
            if not self._sink_failed:
                self._sink_failed = True
                _log.warning("chachaml: a system-metrics sample failed (%s); still sampling", exc)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._safe_sample()
                self.cpu_seconds = time.thread_time()
        finally:
            self.cpu_seconds = time.thread_time()

    def start(self) -> SystemMetricsSampler:
        """Prime the counters and start sampling; returns ``self``."""
        if self.running:
            return self
        self._prime()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="chachaml-system-metrics", daemon=True
        )
        global _atexit_registered
        if not _atexit_registered:  # registered late: runs before the metric writer's flush
            _atexit_registered = True
            atexit.register(stop_all)
        _LIVE.add(self)
        self._thread.start()
        return self

    def stop(self, *, final_sample: bool = True) -> None:
        """Stop the thread and wait for it; with ``final_sample``, take one last sample (so a run
        shorter than the interval still gets its values). Never raises; idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._thread = None
        self._stop.set()
        if thread is not threading.current_thread():
            thread.join()
        _LIVE.discard(self)
        if final_sample:
            self._safe_sample()
        if self._gpu is not None:
            self._gpu.close()


def stop_all() -> None:
    """Stop every running sampler. Registered with ``atexit`` when the first sampler starts, so
    it runs before the metric writer's final flush (registered earlier, hence run later)."""
    for sampler in list(_LIVE):
        sampler.stop()
