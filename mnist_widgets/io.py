"""Renamed :mod:`mnist_widgets.sources`; this alias stays until its last callers have moved."""

from .sources import read_artifacts, write_artifacts

__all__ = ["read_artifacts", "write_artifacts"]
