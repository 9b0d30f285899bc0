"""How the CLI prints values: the one size formatter (binary units, as ``cache list`` shows)."""

from __future__ import annotations


def size(n: int) -> str:
    """``n`` bytes for people: ``512 B``, ``586.9 KiB``, ``1.2 MiB``.

    Examples
    --------
    >>> size(512), size(600_986), size(5 * 2**30)
    ('512 B', '586.9 KiB', '5.0 GiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
