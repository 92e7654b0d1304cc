"""CLI commands for pipelines (work in progress)."""
