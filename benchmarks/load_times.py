"""Time to a ready model: from the local model store vs over HTTP from a local server.

The article's seed model (tests/fixtures/seed-model, 2.3 MiB of float32 weights) is served by
``mnist-widgets serve`` in a separate process (so the server does not share our GIL). With
TensorFlow already imported, we time ``fetch_model`` end to end (bytes + hash checks + decoding into
a Keras model) for each route, and the byte-level part alone (``fetch_artifacts``, no decoding).
The TensorFlow import, paid once per process whatever the route, is measured separately in fresh
subprocesses. Baseline: a plain HTTP load (``network-only``), measured in the same run.

Usage: ``python -m benchmarks.load_times``
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from ._common import SEED_MODEL, markdown_table, start_server, summarize, write_results

REPEATS = 21
IMPORT_REPEATS = 5

_IMPORT_TF = (
    "import time; t = time.perf_counter(); "
    "from mnist_widgets._tf import tensorflow; tensorflow(); "
    "print(time.perf_counter() - t)"
)


def _tf_import_seconds() -> list[float]:
    times = []
    for _ in range(IMPORT_REPEATS):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_TF], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return sorted(times)


def _interleaved(routes: dict[str, Callable[[], object]]) -> dict[str, dict[str, float]]:
    """Time every route REPEATS times, round-robin, so background load hits them all alike."""
    for fn in routes.values():  # warm-up: first-call costs (tracing, connection pools)
        fn()
    times: dict[str, list[float]] = {label: [] for label in routes}
    for run in range(REPEATS):
        print(f"round {run + 1}/{REPEATS}", end="\r", flush=True)
        for label, fn in routes.items():
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    print()
    return {label: summarize(sorted(t)) for label, t in times.items()}


def main() -> int:
    from mnist_widgets._tf import tensorflow

    tensorflow()  # imported once, outside every timing below
    from mnist_widgets.keras_io import fetch_model
    from mnist_widgets.loader import fetch_artifacts
    from mnist_widgets.store import ModelStore
    from mnist_widgets.tfjs import decode_model

    print(f"TensorFlow import: {IMPORT_REPEATS} fresh subprocesses ...", flush=True)
    tf_import = _tf_import_seconds()

    load_before = os.getloadavg()[0]
    server, url = start_server(SEED_MODEL)
    cache_dir = tempfile.mkdtemp(prefix="mnist-widgets-bench-")
    store = ModelStore(cache_dir)
    try:
        fetch_artifacts(url, cache="seed", store=store, progress=False)  # populate the store
        artifacts = store.read("seed")

        def cold_store() -> None:  # a miss: download, verify, write the store, decode
            store.remove_model("seed")
            fetch_model(url, cache="seed", store=store, progress=False)

        routes = {
            "cache (cache-first hit)": lambda: fetch_model(url, cache="seed", store=store),
            "HTTP (network-only)": lambda: fetch_model(
                url, strategy="network-only", progress=False
            ),
            "HTTP + store write (cache miss)": cold_store,
            "HTTP 304 revalidation (network-first)": lambda: fetch_model(
                url, cache="seed", store=store, strategy="network-first"
            ),
        }
        byte_routes = {
            "cache (cache-first hit)": lambda: fetch_artifacts(url, cache="seed", store=store),
            "HTTP (network-only)": lambda: fetch_artifacts(
                url, strategy="network-only", progress=False
            ),
        }
        decode_route = {"decode_model alone (no I/O)": lambda: decode_model(artifacts, source="b")}
        timed = _interleaved(
            {**routes, **{f"bytes: {k}": v for k, v in byte_routes.items()}, **decode_route}
        )
        results = {label: timed[label] for label in routes}
        bytes_only = {label: timed[f"bytes: {label}"] for label in byte_routes}
        decode = timed["decode_model alone (no I/O)"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(cache_dir, ignore_errors=True)

    load = (load_before, os.getloadavg()[0])
    baseline = results["HTTP (network-only)"]["median_ms"]
    rows = [
        [
            label,
            f"{r['median_ms']:.1f}",
            f"{r['p10_ms']:.1f}-{r['p90_ms']:.1f}",
            f"{r['median_ms'] / baseline:.2f}x",
        ]
        for label, r in results.items()
    ]
    rows.append(
        [
            "decode_model alone (no I/O)",
            f"{decode['median_ms']:.1f}",
            f"{decode['p10_ms']:.1f}-{decode['p90_ms']:.1f}",
            f"{decode['median_ms'] / baseline:.2f}x",
        ]
    )
    import_ms = summarize(tf_import)
    table = markdown_table(
        [
            "route to a ready Keras model (TF already imported)",
            "median ms",
            "p10-p90 ms",
            "vs HTTP",
        ],
        rows,
    )
    byte_cache = bytes_only["cache (cache-first hit)"]["median_ms"]
    byte_http = bytes_only["HTTP (network-only)"]["median_ms"]
    size = artifacts.total_bytes
    table += (
        f"\n\nBytes only (no decoding), {size / 2**20:.1f} MiB seed model: store read with SHA-256"
        f" checks {byte_cache:.1f} ms vs HTTP download {byte_http:.1f} ms "
        f"({byte_cache / byte_http:.2f}x). Importing TensorFlow, paid once per process by every "
        f"route: median {import_ms['median_ms'] / 1000:.2f} s over {IMPORT_REPEATS} fresh "
        f"processes. Medians of {REPEATS} interleaved runs; server on 127.0.0.1 in its own "
        f"process; "
        f"1-min load average {load[0]:.1f} -> {load[1]:.1f} on {os.cpu_count()} cores (a shared "
        "machine: compare ratios, not absolute times)."
    )
    write_results(
        "load_times",
        {
            "model": "tests/fixtures/seed-model",
            "model_bytes": size,
            "repeats": REPEATS,
            "baseline": "HTTP (network-only)",
            "ready_model": results,
            "decode_only": decode,
            "bytes_only": bytes_only,
            "tensorflow_import": {**import_ms, "runs_s": tf_import},
            "load_average_1min": {"before": load[0], "after": load[1]},
        },
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
