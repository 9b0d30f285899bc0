"""Benchmarks for mnist-widgets: ``python -m benchmarks`` (or ``make bench``) runs them all."""
