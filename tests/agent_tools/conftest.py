"""The ``backend`` fixture of this folder (defined in ``agent_store``)."""

from __future__ import annotations

from agent_store import backend

__all__ = ["backend"]
