"""Warnings that point at the user's line, whatever path through the package raised them.

A hand-counted ``stacklevel`` is right for one call path only: ``fetch_artifacts`` called directly
and through ``fetch_model`` or ``Predictor`` are different depths. :func:`warn` walks out of the
package's own frames (and the standard-library plumbing between them, such as a
``contextlib.contextmanager``) and attributes the warning to the first frame beyond them.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

_PACKAGE = __name__.rpartition(".")[0]
#: Standard-library modules whose frames sit between two of ours (context managers, wrappers).
_PLUMBING = frozenset({"contextlib", "functools"})


def _internal(frame: FrameType) -> bool:
    name = str(frame.f_globals.get("__name__", ""))
    return name == _PACKAGE or name.startswith(f"{_PACKAGE}.") or name in _PLUMBING


def warn(warning: Warning | str, category: type[Warning] | None = None) -> None:
    """``warnings.warn(warning)``, attributed to the caller's line outside this package."""
    frame: FrameType | None = sys._getframe(1)
    level = 2  # 1 is this function; 2 its caller
    while frame is not None and _internal(frame):
        frame = frame.f_back
        level += 1
    warnings.warn(warning, category, stacklevel=level)
