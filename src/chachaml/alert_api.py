"""Alerts: rules on the latest value of a metric, checked on finished runs (work in progress)."""
