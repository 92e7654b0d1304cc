"""Pipelines: a named sequence of steps, each a tracked child run (work in progress)."""
