"""Run every benchmark in a fresh process, then copy their tables into the README.

Usage: ``python -m benchmarks [NAME ...]`` (default: all, in the order below).
Each benchmark writes ``benchmarks/results/<name>.{json,md}``; the README's results section is
rebuilt from the ``.md`` files between its ``benchmarks:start`` and ``benchmarks:end`` markers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ._common import RESULTS_DIR, machine

ORDER = [
    "engine_latency",
    "engine_startup",
    "predict_latency",
    "drawn_digits",
    "drawings_by_size",
    "load_times",
    "format_sizes",
    "tfjs_latency",
    "train_full",
    "lite",
    "teach",
]
TITLES = {
    "engine_latency": "Predict latency per backend (one 280x280 canvas, end to end)",
    "engine_startup": "Start-up per backend: cold process to first prediction, ready predictor",
    "predict_latency": 'The TensorFlow path in detail (backend="tensorflow")',
    "drawn_digits": "Accuracy on drawn digits (MNIST test digits re-drawn on a 280x280 canvas)",
    "drawings_by_size": "Pen drawings by size through the widget (MNIST test digits as strokes)",
    "load_times": "Time to a ready model",
    "format_sizes": "Model size and accuracy by weight format",
    "tfjs_latency": "TensorFlow.js under Node (the article's runtime)",
    "train_full": "Training on full MNIST",
    "lite": "The tutorials in the browser (JupyterLite site, Pyodide, numpy engine)",
    "teach": "Teaching it a handwriting it misreads (fine-tuning the last layer, NumPy)",
}
README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def _readme_section() -> str:
    facts = machine()
    parts = [
        f"Measured on {facts['cores']} cores ({facts['cpu']}), Python {facts['python']}, "
        f"TensorFlow {facts['tensorflow']}; `make bench` regenerates this section.",
    ]
    for name in ORDER:
        md = RESULTS_DIR / f"{name}.md"
        if md.exists():
            parts.append(f"**{TITLES[name]}** (`benchmarks/{name}.py`)\n\n{md.read_text().strip()}")
    return "\n\n".join(parts)


def update_readme() -> None:
    text = README.read_text()
    if START not in text or END not in text:
        print(f"README has no {START} ... {END} markers; results left in {RESULTS_DIR}")
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{_readme_section()}\n{END}{tail}")


def main(argv: list[str]) -> int:
    names = argv or ORDER
    unknown = sorted(set(names) - set(ORDER))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {ORDER}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(
            f"--- {name}: {'ok' if code == 0 else f'FAILED ({code})'} in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        if code:
            failed.append(name)
    update_readme()
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
