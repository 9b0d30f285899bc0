"""Teach a model your handwriting on the device: refit its last layer on a few drawings, NumPy only.

:func:`finetune` runs the model up to its last ``Dense`` layer (its *features*: 512 numbers per
drawing for the mnist-node CNN), then fits that layer's 5,130 weights again. The new weights
minimise, by L-BFGS (20-40 steps), the sum of

* the drawings' cross-entropy with their labels (their mean, weighted by ``example_weight``);
* a replay of MNIST training digits (``replay.npz``: 100 of each digit, bundled; ``replay`` of
  each are used): the new layer is asked to give them the probabilities the base model gave
  (distillation), so it keeps what it knew;
* a small L2 pull of the weights toward the base model's (``pull``).

The loss is convex, so the result is its minimum, whatever the optimiser's path. Replaying MNIST
measured better than a pull alone (``benchmarks/teach.py``, 5 drawings each of a flagged 1 and a
crossed 7): with the defaults, 99.7 % of new flagged 1s and 7s read right and MNIST test accuracy
drops 0.06 pp; a pull alone that keeps MNIST as well (1.0) reads 93.5 % of them, and one that
learns them (1e-3) drops MNIST by 0.6 pp.

Everything before the last layer is kept, so the features are computed once per drawing (the
replayed digits' come bundled for the shipped model, and are computed once per process for any
other) and each step costs two small matrix products:
fine-tuning on 50 drawings takes a fraction of a second natively and a few seconds in the browser
(``benchmarks/teach.py``). It runs wherever NumPy runs, Pyodide included, on the predictor's own
engine ("numpy" or "onnxruntime"; a tensorflow predictor's features come from numpy). The same
drawings and seed give the same model.

The result is a new :class:`~mnist_widgets.Predictor` whose model is the base model's files with
the last layer's weights replaced (same topology, same weight files and sizes, TF.js layers
format) and ``userDefinedMetadata`` recording the base model's SHA-256, the number of drawings and
the date: :class:`~mnist_widgets.PersonalModel` keeps it in the model store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import engines
from .drawings import Drawing, DrawingSet, as_drawing_set
from .engines._plan import Dense, Plan, cut, plan_artifacts
from .errors import ConfigError, ModelFormatError
from .predictor import Predictor
from .tfjs.artifacts import ModelArtifacts
from .tfjs.graph import WeightSpec, parse_graph
from .tfjs.weights import replace_weights

__all__ = ["FineTuneInfo", "finetune", "finetune_info", "model_sha256"]

REPLAY_FILE = Path(__file__).with_name("replay.npz")
#: The key of our record in model.json's ``userDefinedMetadata``.
METADATA_KEY = "mnist_widgets"
_CHUNK = 64  # images per engine call when computing features


@dataclass(frozen=True)
class FineTuneInfo:
    """What a fine-tuned model records about itself (in model.json's ``userDefinedMetadata``).

    Attributes
    ----------
    base_sha256 : str
        :func:`model_sha256` of the model it was fine-tuned from.
    examples : int
        The number of drawings it learned from.
    per_digit : dict
        Drawings per digit.
    created : str
        When, in UTC (ISO 8601).
    layer : str
        The layer that was refit.
    """

    base_sha256: str
    examples: int
    per_digit: Mapping[int, int]
    created: str
    layer: str

    def to_json(self) -> dict[str, Any]:
        return {
            "base_sha256": self.base_sha256,
            "examples": self.examples,
            "per_digit": {str(k): v for k, v in self.per_digit.items()},
            "created": self.created,
            "layer": self.layer,
        }

    @classmethod
    def from_json(cls, data: Any) -> FineTuneInfo | None:
        """The record, or ``None`` for anything that is not one (a model of someone else's)."""
        try:
            per_digit = {int(k): int(v) for k, v in dict(data["per_digit"]).items()}
            info = cls(
                str(data["base_sha256"]),
                int(data["examples"]),
                per_digit,
                str(data["created"]),
                str(data["layer"]),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            return None
        return info


def model_sha256(artifacts: ModelArtifacts) -> str:
    """The SHA-256 of a model: of its ``model.json`` (as written) then its weight files in
    manifest order."""
    digest = hashlib.sha256(artifacts.model_json_bytes())
    for path in artifacts.paths:
        digest.update(artifacts.weight_files[path])
    return digest.hexdigest()


def finetune_info(model: Predictor | ModelArtifacts) -> FineTuneInfo | None:
    """What a fine-tuned model records (base SHA-256, drawings, date); ``None`` for any other."""
    artifacts = model.artifacts if isinstance(model, Predictor) else model
    if artifacts is None:
        return None
    meta = artifacts.model_json.get("userDefinedMetadata")
    if not isinstance(meta, dict):
        return None
    ours = meta.get(METADATA_KEY)
    return FineTuneInfo.from_json(ours.get("finetune")) if isinstance(ours, dict) else None


def finetune(
    predictor: Predictor,
    examples: DrawingSet | Sequence[Drawing],
    *,
    max_steps: int = 100,
    example_weight: float = 0.3,
    replay: int = 50,
    pull: float = 1e-3,
    seed: int = 0,
    progress: bool | None = None,
) -> Predictor:
    """A new predictor whose last layer is refit on ``examples``; the base model is unchanged.

    The new weights minimise (L-BFGS, to convergence) the drawings' weighted cross-entropy plus
    the replayed MNIST digits' distance to the base model's answers plus the pull; see the
    module docstring.

    Parameters
    ----------
    predictor
        The base model (any backend). Its last layer must be a ``Dense`` with a softmax (or
        linear) activation on a flat input, as in the mnist-node CNN.
    examples
        Labelled drawings (``canvas.examples``, a :class:`~mnist_widgets.DrawingSet`).
    max_steps
        At most this many L-BFGS steps (it usually settles in 20-40).
    example_weight
        The weight of the drawings' mean loss; the replayed MNIST digits' mean loss weighs 1.
        Higher learns the drawings faster and forgets MNIST more.
    replay
        MNIST training digits replayed per class (0-100; 0: the L2 pull alone keeps the base).
    pull
        Strength of the L2 pull toward the base model's weights.
    seed
        Which replay digits are used (the same seed, the same model).
    progress
        Show a progress bar: ``None`` (default) shows one only when a run lasts over a second.

    Returns
    -------
    Predictor
        On the same backend; ``finetune_info(new)`` says what it learned from.

    Raises
    ------
    ConfigError
        No examples, or a setting out of range.
    ModelFormatError
        The model's last layer is not a Dense softmax (or linear) layer.
    """
    drawings = as_drawing_set(examples)
    _check_settings(len(drawings), max_steps, example_weight, replay, pull)
    artifacts = _artifacts_of(predictor)
    plan = plan_artifacts(artifacts, source="the base model")
    head = _head(plan)
    body = engines.plan_engine(cut(plan, head.input), _plan_backend(predictor.backend))
    assert head.kernel is not None
    w0 = head.kernel.astype(np.float32)
    b0 = (head.bias if head.bias is not None else np.zeros(w0.shape[1])).astype(np.float32)

    features = _features(body, drawings.inputs)
    replayed = _replay_features(body, plan, head.input, replay, seed)
    onehot = np.eye(w0.shape[1])[drawings.labels]
    targets = np.vstack([onehot, _softmax(replayed @ w0 + b0)])
    x = np.vstack([features, replayed])
    weights = np.concatenate(
        [
            np.full(len(features), example_weight / len(features)),
            np.full(len(replayed), 1.0 / max(len(replayed), 1)),
        ]
    )[:, None]
    theta0 = np.concatenate([w0.T.ravel(), b0]).astype(np.float64)  # see _Objective
    objective = _Objective(
        x.astype(np.float64), targets, weights, theta0, pull, fit_bias=head.bias is not None
    )
    kernel, bias = objective.split(_lbfgs(objective, theta0.copy(), max_steps, progress))

    info = FineTuneInfo(
        model_sha256(artifacts),
        len(drawings),
        drawings.counts(),
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
        head.name,
    )
    tuned = _with_head(artifacts, head.name, kernel, bias, info)
    return Predictor(tuned, backend=predictor.backend)


# -- the pieces ----------------------------------------------------------------------------------


def _check_settings(
    n: int, max_steps: int, example_weight: float, replay: int, pull: float
) -> None:
    if n == 0:
        msg = "no examples to learn from: correct or confirm a few drawings first"
        raise ConfigError(msg)
    checks = [
        (isinstance(max_steps, int) and 1 <= max_steps <= 10_000, f"max_steps={max_steps!r}"),
        (0 < example_weight <= 1000, f"example_weight={example_weight!r} (0-1000]"),
        (isinstance(replay, int) and 0 <= replay <= 100, f"replay={replay!r} (0-100)"),
        (0 <= pull <= 1000, f"pull={pull!r} (0-1000)"),
    ]
    for ok, what in checks:
        if not ok:
            raise ConfigError(f"fine-tuning setting out of range: {what}")


def _artifacts_of(predictor: Predictor) -> ModelArtifacts:
    if predictor.artifacts is not None:
        return predictor.artifacts
    from .tfjs.codec import encode_model  # deferred: only a keras.Model needs Keras here

    return encode_model(predictor.model)


def _plan_backend(backend: str) -> str:
    return backend if backend in ("numpy", "onnxruntime") else "numpy"


def _head(plan: Plan) -> Dense:
    head = plan.steps[-1] if plan.steps else None
    if (
        not isinstance(head, Dense)
        or head.name != plan.output
        or head.activation not in ("softmax", "linear")
        or len(head.input_shape) != 1
    ):
        activation = getattr(head, "activation", "")
        kind = type(head).__name__.lower()
        what = "no layers" if head is None else f"{head.name!r} ({kind}, {activation})"
        msg = (
            f"fine-tuning refits the model's last layer, which must be a Dense layer with a "
            f"softmax (or linear) activation on flat features; this model's last is {what}"
        )
        raise ModelFormatError(msg)
    return head


def _features(body: engines.Engine, inputs: np.ndarray) -> np.ndarray:
    out = [body(inputs[i : i + _CHUNK, :, :, None]) for i in range(0, len(inputs), _CHUNK)]
    return np.concatenate(out).astype(np.float32, copy=False)


@dataclass(frozen=True)
class _Replay:
    """The bundled digits, and their features for one model body (the shipped model's)."""

    images: np.ndarray  # uint8 (n, 28, 28)
    labels: np.ndarray  # int64 (n,)
    body: str  # _body_digest of the model whose features are bundled ("" if none)
    features: np.ndarray | None  # float32 (n, width)


@lru_cache(maxsize=1)
def _replay() -> _Replay:
    with np.load(REPLAY_FILE, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"].astype(np.int64)
        if "features" not in npz.files:
            return _Replay(images, labels, "", None)
        q = npz["features"].astype(np.float32)  # uint8: lo + q * step
        features = q * np.float32(npz["features_step"]) + np.float32(npz["features_lo"])
        return _Replay(images, labels, str(npz["features_body"]), features)


def replay_choice(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Which bundled digits are replayed: ``per_class`` of each, chosen by ``seed``, in order."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == d))[:per_class] for d in range(10)]
    return np.sort(np.concatenate(chosen))


_replay_cache: dict[tuple[str, int, int], np.ndarray] = {}
_replay_lock = threading.Lock()


def _replay_features(
    body: engines.Engine, plan: Plan, layer: str, per_class: int, seed: int
) -> np.ndarray:
    """Features of ``per_class`` bundled MNIST digits per class: bundled for the shipped model's
    body, computed (once per body and process) for any other."""
    if per_class == 0:
        return np.zeros((0, _width(plan, layer)), np.float32)
    digest = _body_digest(plan, layer)
    key = (digest, per_class, seed)
    with _replay_lock:
        cached = _replay_cache.get(key)
        if cached is None:
            replay = _replay()
            chosen = replay_choice(replay.labels, per_class, seed)
            if replay.features is not None and replay.body == digest:
                cached = replay.features[chosen]
            else:
                cached = _features(body, replay.images[chosen].astype(np.float32) / 255.0)
            if len(_replay_cache) >= 4:
                _replay_cache.pop(next(iter(_replay_cache)))
            _replay_cache[key] = cached
    return cached


def bundle_features(predictor: Predictor) -> dict[str, np.ndarray]:
    """The arrays ``scripts/replay_digits.py`` adds to ``replay.npz``: the features of every
    bundled digit for ``predictor``'s body (uint8, ``lo + q * step``) and the body's digest."""
    plan = plan_artifacts(_artifacts_of(predictor), source="the model")
    layer = _head(plan).input
    body = engines.plan_engine(cut(plan, layer), _plan_backend(predictor.backend))
    features = _features(body, _replay().images.astype(np.float32) / 255.0).astype(np.float64)
    lo, hi = float(features.min()), float(features.max())
    step = (hi - lo) / 255 if hi > lo else 1.0
    q = np.rint((features - lo) / step).astype(np.uint8)
    return {
        "features": q,
        "features_lo": np.array(lo),
        "features_step": np.array(step),
        "features_body": np.array(_body_digest(plan, layer)),
    }


def _width(plan: Plan, layer: str) -> int:
    return int(np.prod(cut(plan, layer).output_shape))


def _body_digest(plan: Plan, layer: str) -> str:
    """A fingerprint of the steps up to ``layer`` (their kinds, shapes and weights)."""
    digest = hashlib.sha256()
    for step in cut(plan, layer).steps:
        digest.update(type(step).__name__.encode())
        for f in dataclasses.fields(step):
            value = getattr(step, f.name)
            if isinstance(value, np.ndarray):
                digest.update(np.ascontiguousarray(value).tobytes())
            elif f.name not in ("name", "input"):
                digest.update(f"{f.name}={value!r};".encode())
    return digest.hexdigest()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


class _Objective:
    """sum_i weights_i * CE(softmax(x_i W + b), targets_i) + pull/2 |theta - theta0|^2, with
    theta = (W transposed, b) flattened, one class's weights after another: the loss and its
    gradient.

    Each matrix product is one matrix-vector product per class: BLAS runs those on one thread,
    where a (550 x 512) @ (512 x 10) matrix product starts a thread per core, which costs ten times
    the arithmetic on a busy machine (``benchmarks/teach.py``); Pyodide's NumPy runs both alike.
    """

    def __init__(
        self,
        x: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray,
        theta0: np.ndarray,
        pull: float,
        *,
        fit_bias: bool = True,
    ) -> None:
        self.x, self.xt = x, np.ascontiguousarray(x.T)
        self.targets, self.weights = targets, weights
        self.theta0, self.pull = theta0, pull
        self.shape = (targets.shape[1], x.shape[1])  # (classes, features): W transposed
        self.fit_bias = fit_bias

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (features, classes) kernel and the bias of theta."""
        n = self.shape[0] * self.shape[1]
        return theta[:n].reshape(self.shape).T, theta[n:]

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        n = self.shape[0] * self.shape[1]
        w_t, b = theta[:n].reshape(self.shape), theta[n:]
        z = _per_row(self.x, w_t) + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        delta = theta - self.theta0
        loss = -float((self.weights * self.targets * log_p).sum())
        loss += 0.5 * self.pull * float(delta @ delta)
        g = (np.exp(log_p) - self.targets) * self.weights
        grad_w_t = _per_row(self.xt, np.ascontiguousarray(g.T)).T  # (classes, features)
        grad = np.concatenate([grad_w_t.ravel(), g.sum(axis=0)]) + self.pull * delta
        if not self.fit_bias:  # a layer without a bias keeps its zeros
            grad[self.shape[0] * self.shape[1] :] = 0.0
        return loss, grad


def _per_row(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a @ rows.T`` as one matrix-vector product per row of ``rows`` (see :class:`_Objective`)."""
    return np.stack([a @ row for row in rows], axis=1)


def _lbfgs(
    objective: _Objective, theta: np.ndarray, max_steps: int, progress: bool | None
) -> np.ndarray:
    """Minimise a smooth convex ``objective`` by L-BFGS (10 pairs) with a backtracking line
    search; stop when the loss stops moving (relative change < 1e-7) or after ``max_steps``."""
    from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal; shown after `delay`

    memory: list[tuple[np.ndarray, np.ndarray, float]] = []
    loss, grad = objective(theta)
    bar = tqdm(
        total=max_steps,
        desc="fine-tuning",
        unit="step",
        disable=progress is False,
        delay=0.0 if progress else 1.0,
        leave=False,
    )
    with bar:
        for _ in range(max_steps):
            direction = -_two_loop(grad, memory)
            slope = float(grad @ direction)
            if slope >= 0:  # not a descent direction (rounding): restart from the gradient
                memory.clear()
                direction, slope = -grad, -float(grad @ grad)
            step = 1.0 if memory else min(1.0, 1.0 / max(float(np.abs(grad).sum()), 1e-12))
            while True:
                new_theta = theta + step * direction
                new_loss, new_grad = objective(new_theta)
                if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                    break
                step *= 0.5
            s, y = new_theta - theta, new_grad - grad
            sy = float(s @ y)
            if sy > 1e-10:
                memory.append((s, y, 1.0 / sy))
                if len(memory) > 10:
                    memory.pop(0)
            done = abs(loss - new_loss) <= 1e-7 * max(abs(loss), 1.0)
            theta, loss, grad = new_theta, new_loss, new_grad
            bar.update(1)
            if done:
                break
    return theta


def _two_loop(grad: np.ndarray, memory: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """L-BFGS's inverse-Hessian estimate times ``grad``."""
    q: np.ndarray = grad.copy()
    alphas = []
    for s, y, rho in reversed(memory):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    if memory:
        s, y, _ = memory[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), alpha in zip(memory, reversed(alphas), strict=True):
        q += (alpha - rho * float(y @ q)) * s
    return q


def _with_head(
    artifacts: ModelArtifacts, layer: str, kernel: np.ndarray, bias: np.ndarray, info: FineTuneInfo
) -> ModelArtifacts:
    """The base model's files with ``layer``'s weights replaced and ``info`` recorded."""
    specs = {s.name.rsplit("/", 1)[-1]: s.name for s in _layer_weights(artifacts, layer)}
    new = {specs["kernel"]: kernel}
    if "bias" in specs:
        new[specs["bias"]] = bias
    model_json, files = replace_weights(artifacts.model_json, artifacts.weight_files, new)
    old = model_json.get("userDefinedMetadata")
    meta = dict(old) if isinstance(old, dict) else {}
    ours = dict(meta[METADATA_KEY]) if isinstance(meta.get(METADATA_KEY), dict) else {}
    ours["finetune"] = info.to_json()
    meta[METADATA_KEY] = ours
    model_json = {**model_json, "userDefinedMetadata": meta}
    return ModelArtifacts(model_json, files, source=f"fine-tuned from {info.base_sha256[:12]}")


def _layer_weights(artifacts: ModelArtifacts, layer: str) -> tuple[WeightSpec, ...]:
    return parse_graph(artifacts.model_json, source=artifacts.source).layer(layer).weights
