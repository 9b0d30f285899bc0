"""``filelock``, imported without its "only soft file lock is available" warning.

Without ``fcntl`` (Pyodide, in the browser) filelock falls back to a lock file and warns on
import: a warning box in every notebook that touches the store. One browser tab's kernel is the
only process using its store, so the soft lock is all it needs: nothing to act on, no warning.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="only soft file lock is available")
    import filelock

__all__ = ["filelock"]
