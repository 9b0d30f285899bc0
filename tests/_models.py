"""Tiny TF.js layers models written directly as model.json + weight bytes, and a fault server.

A Dense(inputs -> units, softmax) model in the format TF.js saves (``tiny_model_json``), a
converter-style functional one (``functional_model_json``), and ``weight_bytes`` to fill any
manifest: small enough that tests move a few hundred bytes, real enough that ``decode_model``
builds them and TF.js could load them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import numpy as np
from _serving import RecordingServer
from tornado.web import Application, RequestHandler


def tiny_model_json(inputs: int = 4, units: int = 3, paths: list[str] | None = None) -> dict:
    layer = {
        "class_name": "Dense",
        "config": {
            "name": "dense_Dense1",
            "units": units,
            "activation": "softmax",
            "use_bias": True,
            "batch_input_shape": [None, inputs],
            "dtype": "float32",
            "trainable": True,
        },
    }
    return {
        "format": "layers-model",
        "generatedBy": "tests/_models.py",
        "convertedBy": None,
        "modelTopology": {
            "class_name": "Sequential",
            "config": {"name": "tiny", "layers": [layer]},
            "keras_version": "tfjs-layers 4.22.0",
            "backend": "tensor_flow.js",
        },
        "weightsManifest": [
            {
                "paths": paths or ["group1-shard1of1.bin"],
                "weights": [
                    {"name": "dense_Dense1/kernel", "shape": [inputs, units], "dtype": "float32"},
                    {"name": "dense_Dense1/bias", "shape": [units], "dtype": "float32"},
                ],
            }
        ],
    }


def write_tiny_model(
    directory: Path, *, seed: int = 0, inputs: int = 4, units: int = 3, shards: int = 1
) -> Path:
    """Write model.json and ``shards`` weight files into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(inputs * units + units).astype("<f4").tobytes()
    names = [f"group1-shard{i + 1}of{shards}.bin" for i in range(shards)]
    step = -(-len(data) // shards)
    for i, name in enumerate(names):
        (directory / name).write_bytes(data[i * step : (i + 1) * step])
    model_json = tiny_model_json(inputs, units, names)
    (directory / "model.json").write_text(json.dumps(model_json))
    return directory


class _Plan:
    """Faults to inject, per request path: a queue used up in order, then an optional default."""

    def __init__(self) -> None:
        self.queued: dict[str, deque[str]] = defaultdict(deque)
        self.always: dict[str, str] = {}
        self.started: dict[str, threading.Event] = defaultdict(threading.Event)
        self.lock = threading.Lock()

    def next(self, path: str) -> str | None:
        with self.lock:
            if self.queued[path]:
                return self.queued[path].popleft()
            return self.always.get(path)


class FaultHandler(RequestHandler):
    """Serves files from ``root``, misbehaving on request as the plan says.

    Faults: ``status:N`` (answer HTTP N), ``stall:SECONDS`` (say nothing for that long),
    ``truncate:N`` (announce the full length, send N bytes, hang up), ``chunked`` (no
    Content-Length), ``trickle:BYTES:SECONDS`` (send slowly).
    """

    def initialize(self, root: Path, plan: _Plan) -> None:
        self.root = root
        self.plan = plan

    async def get(self, path: str) -> None:
        self.plan.started[path].set()
        fault = self.plan.next(path)
        file = self.root / path
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        kind, *args = (fault or "ok").split(":")
        if kind == "status":
            self.set_status(int(args[0]))
            self.finish(f"injected HTTP {args[0]}")
        elif kind == "stall":
            await asyncio.sleep(float(args[0]))
            self.finish(data)
        elif kind == "truncate":
            # Bypass tornado's own Content-Length bookkeeping: write a raw, short response.
            stream = self.request.connection.detach()
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            await stream.write(head + data[: int(args[0])])
            stream.close()
            self._finished = True
            self.application.log_request(self)
        elif kind == "chunked":
            for start in range(0, len(data), 4096):
                self.write(data[start : start + 4096])
                await self.flush()
            self.finish()
        elif kind == "trickle":
            size, delay = int(args[0]), float(args[1])
            self.set_header("Content-Length", str(len(data)))
            try:
                for start in range(0, len(data), size):
                    self.write(data[start : start + size])
                    await self.flush()
                    await asyncio.sleep(delay)
            except Exception:  # the client went away (e.g. killed): nothing more to send
                self._finished = True
                self.application.log_request(self)
                return
            self.finish()
        else:
            self.finish(data)


class FaultServer(RecordingServer):
    """A recording model server over ``root`` whose responses can be made to fail."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        self.plan = _Plan()
        app = Application([(r"/(.*)", FaultHandler, {"root": root, "plan": self.plan})])
        super().__init__(app, **kwargs)

    def fail(self, path: str, *faults: str) -> None:
        """Apply ``faults`` to the next requests for ``path`` (one each)."""
        with self.plan.lock:
            self.plan.queued[path].extend(faults)

    def always(self, path: str, fault: str) -> None:
        """Apply ``fault`` to every request for ``path`` once the queued ones are used."""
        with self.plan.lock:
            self.plan.always[path] = fault

    def statuses(self, path: str) -> list[int]:
        return [r.status for r in self.requests if r.path == "/" + path]


def functional_model_json(*, hidden: int = 3, inputs: int = 4) -> dict:
    """A converter-style functional model: InputLayer -> Dense(hidden) -> Dense(2, softmax)."""

    def dense(name: str, units: int, source: str, activation: str) -> dict:
        return {
            "class_name": "Dense",
            "name": name,
            "config": {"name": name, "units": units, "activation": activation, "use_bias": True},
            "inbound_nodes": [[[source, 0, 0, {}]]],
        }

    layers = [
        {
            "class_name": "InputLayer",
            "name": "x",
            "config": {"name": "x", "batch_input_shape": [None, inputs], "dtype": "float32"},
            "inbound_nodes": [],
        },
        dense("hidden", hidden, "x", "relu"),
        dense("out", 2, "hidden", "softmax"),
    ]
    weights = [
        {"name": "hidden/kernel", "shape": [inputs, hidden], "dtype": "float32"},
        {"name": "hidden/bias", "shape": [hidden], "dtype": "float32"},
        {"name": "out/kernel", "shape": [hidden, 2], "dtype": "float32"},
        {"name": "out/bias", "shape": [2], "dtype": "float32"},
    ]
    return {
        "format": "layers-model",
        "modelTopology": {
            "model_config": {
                "class_name": "Functional",
                "config": {
                    "name": "fun",
                    "layers": layers,
                    "input_layers": [["x", 0, 0]],
                    "output_layers": [["out", 0, 0]],
                },
            }
        },
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}],
    }


def weight_bytes(model_json: dict, seed: int = 0) -> dict[str, bytes]:
    """Random float32 weight files of exactly the sizes model.json's (one-file) groups declare."""
    from mnist_widgets.tfjs.artifacts import weight_nbytes

    rng = np.random.default_rng(seed)
    files = {}
    for group in model_json["weightsManifest"]:
        size = sum(weight_nbytes(e) for e in group["weights"])
        values = rng.standard_normal(-(-size // 4)).astype("<f4").tobytes()
        files[group["paths"][0].removeprefix("./")] = values[:size]
    return files


#: The writer cases both the TF.js and the engine tests run: (name, which model ("seed": the
#: article's; "cnn": an untrained mnist-node CNN; "seq"/"fun": every-option Sequential and a
#: functional model with BatchNormalization), quantize, shard size in bytes).
WRITER_CASES = [
    ("seed-f32", "seed", None, 4 * 1024 * 1024),
    ("seed-uint8", "seed", "uint8", 300_000),
    ("cnn-f32", "cnn", None, 4 * 1024 * 1024),
    ("seq-f32", "seq", None, 1000),
    ("seq-float16", "seq", "float16", 4 * 1024 * 1024),
    ("seq-uint8", "seq", "uint8", 4 * 1024 * 1024),
    ("fun-f32", "fun", None, 4 * 1024 * 1024),
    ("fun-float16", "fun", "float16", 4 * 1024 * 1024),
    ("fun-uint16", "fun", "uint16", 2048),
]
