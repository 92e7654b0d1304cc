"""Placeholder: being written (replace this file, or turn it into a package)."""
