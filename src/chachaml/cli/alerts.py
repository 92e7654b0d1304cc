"""CLI commands for alerts (work in progress)."""
