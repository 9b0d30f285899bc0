"""Shared helpers for the benchmark scripts: timing, machine facts, result files.

Every benchmark module writes ``benchmarks/results/<name>.json`` (all numbers) and
``benchmarks/results/<name>.md`` (a short table for humans). ``python -m benchmarks`` runs them
all and copies the tables into the README.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED_MODEL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed-model"


def median_seconds(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times; return the sorted durations."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)


def summarize(times: list[float]) -> dict[str, float]:
    """Median and spread of a list of durations, in milliseconds."""
    ms = [t * 1000 for t in times]
    return {
        "median_ms": statistics.median(ms),
        "p10_ms": ms[int(0.1 * (len(ms) - 1))],
        "p90_ms": ms[int(0.9 * (len(ms) - 1))],
        "runs": len(ms),
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    try:
        info["tensorflow"] = importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:
        info["tensorflow"] = "unknown"
    return info


def pick_model(path: str | None) -> tuple[Path, str]:
    """The model directory and a label saying which model the numbers are for."""
    if path:
        return Path(path), path
    from mnist_widgets import shipped_model_dir
    from mnist_widgets.errors import MnistWidgetsError

    try:
        return shipped_model_dir(), "shipped model (models/mnist)"
    except MnistWidgetsError:
        return SEED_MODEL, "article's seed model (tests/fixtures/seed-model; shipped model absent)"


def write_results(name: str, data: dict[str, Any], table: str) -> Path:
    """Write ``<name>.json`` (with machine facts) and ``<name>.md``; return the markdown path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "machine": machine(), **data}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    md = RESULTS_DIR / f"{name}.md"
    md.write_text(table.rstrip() + "\n")
    print(table)
    return md


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def start_server(model_dir: Path) -> tuple[subprocess.Popen, str]:
    """``mnist-widgets serve model_dir`` in its own process; return it and the model.json URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_widgets", "serve", str(model_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()
    if " at http://" not in line:
        proc.kill()
        msg = f"server did not start: {line!r}"
        raise RuntimeError(msg)
    return proc, line.split(" at ", 1)[1].split()[0] + "model.json"
