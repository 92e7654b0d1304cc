"""Numeric settings from environment variables, in one table.

Modules read them once, at import, into constants (``FLUSH_INTERVAL = config.get(...)``). A
malformed value must not break ``import chachaml``: reading falls back to the default, and
:func:`check` (called whenever a store is opened) raises :class:`~chachaml.errors.InvalidInput`
naming every malformed variable of the table, whichever modules are imported yet.
"""

from __future__ import annotations

import math
import os

from chachaml.errors import InvalidInput

# name -> (default, minimum, whole number?)
SETTINGS: dict[str, tuple[float, float, bool]] = {
    "CHACHAML_FLUSH_INTERVAL": (0.5, 0, False),
    "CHACHAML_HEARTBEAT_INTERVAL": (10.0, 0, False),
    "CHACHAML_HEARTBEAT_TIMEOUT": (60.0, 0, False),
    "CHACHAML_SQLITE_BUSY_TIMEOUT_MS": (60_000, 0, True),
    "CHACHAML_SQLITE_CACHE_MB": (64, 0, True),
    "CHACHAML_PG_TIMEOUT": (30.0, 0, False),
    "CHACHAML_PG_POOL_MAX": (4, 1, True),
    "CHACHAML_S3_PART_SIZE": (8 * 1024 * 1024, 5 * 1024 * 1024, True),
    "CHACHAML_ALERT_TIMEOUT": (5.0, 0.001, False),
    "CHACHAML_ALERT_RETRIES": (3, 0, True),
}


def _parse(name: str) -> tuple[float, str | None]:
    """The setting's value (the default when unset or malformed) and the error, if any."""
    default, minimum, whole = SETTINGS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default, None
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:
        kind = "a whole number" if whole else "a number"
        return default, f"{name}={raw!r}: expected {kind} >= {minimum:.15g}"
    return value, None


def get(name: str) -> float:
    """The current value of a setting of :data:`SETTINGS`."""
    return _parse(name)[0]


def check() -> None:
    """Raise ``InvalidInput`` naming every malformed setting."""
    errors = [err for name in SETTINGS if (err := _parse(name)[1]) is not None]
    if errors:
        raise InvalidInput("; ".join(errors))
