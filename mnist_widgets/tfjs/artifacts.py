"""The files of a TF.js layers model, in memory, and the checks every loader shares (no TensorFlow).

A model is ``model.json`` plus the weight files its ``weightsManifest`` names.
:class:`ModelArtifacts` holds both, whatever the files came from (a directory, HTTP, the model
store); the functions here validate them before anything is decoded, so a corrupt or hostile file
fails early with a message that names the file and what was expected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import ModelFormatError

#: Bytes per element of the dtypes a manifest entry may declare (``string`` is variable-length and
#: never produced by a layers model, so it is rejected rather than half-supported).
DTYPE_SIZES: dict[str, int] = {"float32": 4, "int32": 4, "bool": 1, "complex64": 8}
#: Bytes per element of the quantized storage dtypes (``quantization.dtype``).
QUANTIZED_SIZES: dict[str, int] = {"float16": 2, "uint8": 1, "uint16": 2}
#: What ``quantize=`` accepts when writing (the TF.js converter's choices).
QUANTIZE_CHOICES: tuple[str, ...] = tuple(QUANTIZED_SIZES)
#: Bytes per weight file when writing; the TF.js converter's default.
DEFAULT_SHARD_BYTES = 4 * 1024 * 1024

#: The file every TF.js layers model is named by; its weight files sit beside it.
MODEL_JSON = "model.json"
#: How deeply model.json may nest. Real files need about 12 levels; much deeper nesting only
#: exists to make a recursive reader (``json.dumps`` in the store, ``copy.deepcopy``) overflow.
MAX_JSON_DEPTH = 64
#: The most a model.json and its weights may be, however they are read (HTTP or a local file).
MAX_MODEL_JSON_BYTES = 32 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024 * 1024 * 1024

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


class ModelJson(dict[str, Any]):
    """A parsed ``model.json`` whose structure :func:`check_model_json` has passed.

    Only :func:`parse_model_json` makes one; :class:`ModelArtifacts` trusts it instead of checking
    it again. Any other dict is checked when the artifacts are made.
    """


@dataclass(frozen=True)
class ModelArtifacts:
    """``model.json`` (parsed) and the weight files it refers to, checked once when constructed.

    Constructing one is the check (manifest structure, weight paths, every file present, each
    group's byte total), so code that receives a ``ModelArtifacts`` trusts it.

    Parameters
    ----------
    model_json
        The parsed ``model.json``: ``modelTopology``, ``weightsManifest``, ``format``, ...
    weight_files
        Manifest path (e.g. ``"group1-shard1of1.bin"``) -> file contents. A leading ``./`` (as
        TF.js's ``downloads://`` writes) is dropped from the keys: it names the same file.
    source
        Where the files came from, for error messages.

    Raises
    ------
    ModelFormatError
        Anything malformed, naming the key, weight or file and what was expected.

    Examples
    --------
    >>> manifest = [{"paths": ["./w.bin"], "weights": [{"name": "d/bias", "shape": [2],
    ...              "dtype": "float32"}]}]
    >>> artifacts = ModelArtifacts({"modelTopology": {}, "weightsManifest": manifest},
    ...                            {"./w.bin": bytes(8)})
    >>> artifacts.paths, artifacts.total_bytes
    (['w.bin'], 130)
    >>> ModelArtifacts({"modelTopology": {}, "weightsManifest": manifest}, {})
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.ModelFormatError: model.json: weight file './w.bin' named in \
weightsManifest[0] is missing; copy the complete model directory (model.json and every .bin \
file) again
    """

    model_json: dict[str, Any]
    weight_files: Mapping[str, bytes] = field(default_factory=dict)
    source: str = field(default=MODEL_JSON, repr=False, compare=False)
    paths: list[str] = field(init=False, repr=False, compare=False)
    _json_bytes: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model_json, ModelJson):  # parse_model_json checked that one
            check_model_json(self.model_json, source=self.source)
        files = MappingProxyType({normal_path(p): b for p, b in self.weight_files.items()})
        object.__setattr__(self, "weight_files", files)
        object.__setattr__(self, "paths", weight_paths(self.model_json, source=self.source))
        check_weight_files(self.model_json, files, source=self.source)
        try:
            text = json.dumps(
                self.model_json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            )
        except (TypeError, ValueError) as exc:  # NaN/inf, or a value JSON has no form for
            raise _fail(self.source, f"model.json cannot be written as JSON ({exc})") from exc
        object.__setattr__(self, "_json_bytes", text.encode("utf-8"))
        # Our own copy, equal to what the bytes parse to: a caller mutating its dict afterwards
        # cannot make a checked ModelArtifacts invalid, or its model_json differ from its bytes.
        object.__setattr__(self, "model_json", json.loads(text))

    @classmethod
    def from_json_bytes(
        cls, raw: bytes | str, weight_files: Mapping[str, bytes], *, source: str
    ) -> ModelArtifacts:
        """Parse ``model.json`` bytes (:func:`parse_model_json`) and check them with the files."""
        return cls(parse_model_json(raw, source=source), weight_files, source)

    def model_json_bytes(self) -> bytes:
        """``model.json`` as UTF-8 bytes, exactly as written to disk (compact, key order kept)."""
        return self._json_bytes

    @property
    def total_bytes(self) -> int:
        """Size of ``model.json`` plus all weight files, in bytes."""
        return len(self._json_bytes) + sum(len(b) for b in self.weight_files.values())


def _no_constant(name: str) -> None:
    # Python's json accepts NaN/Infinity, which are not JSON and which TF.js's JSON.parse rejects.
    raise ValueError(f"{name} is not a JSON value")


def _fail(source: str, what: str) -> ModelFormatError:
    return ModelFormatError(f"{source}: {what}")


def parse_model_json(raw: bytes | str, *, source: str) -> ModelJson:
    """Parse and validate ``model.json``.

    Checks the JSON syntax, the top-level keys (``modelTopology`` and ``weightsManifest``),
    and every manifest entry (``name``, ``shape``, ``dtype``, ``quantization``).

    Parameters
    ----------
    raw
        The file contents.
    source
        Where it came from (a path or URL), used in error messages.

    Raises
    ------
    ModelFormatError
        Anything malformed, naming the key or weight and what was expected.

    Examples
    --------
    >>> parse_model_json(b'{"modelTopology": {}, "weightsManifest": []}', source="m.json")
    {'modelTopology': {}, 'weightsManifest': []}
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
        model_json = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        msg = (
            f"{source} is not valid JSON ({exc}); expected a TF.js model.json "
            "(was the file truncated, or is the URL serving an HTML page?)"
        )
        raise ModelFormatError(msg) from exc
    return ModelJson(check_model_json(model_json, source=source))


def check_model_json(model_json: object, *, source: str) -> dict[str, Any]:
    """Validate a parsed ``model.json`` (what :func:`parse_model_json` checks after parsing).

    Returns it, typed as the JSON object it was checked to be.

    Raises
    ------
    ModelFormatError
        Anything malformed, naming the key or weight and what was expected.
    """
    if not isinstance(model_json, dict):
        msg = f"{source}: expected a JSON object at the top level, got {type(model_json).__name__}"
        raise ModelFormatError(msg)
    for key in ("modelTopology", "weightsManifest"):
        if key not in model_json:
            present = ", ".join(sorted(model_json)) or "none"
            msg = (
                f"{source}: missing key {key!r} (keys present: {present}); expected a TF.js "
                "layers-model model.json with 'modelTopology' and 'weightsManifest'"
            )
            raise ModelFormatError(msg)
    if not isinstance(model_json["modelTopology"], dict):
        raise _fail(
            source, "'modelTopology' must be a JSON object (graph models are not supported)"
        )
    manifest = model_json["weightsManifest"]
    if not isinstance(manifest, list):
        raise _fail(source, f"'weightsManifest' must be a list of groups, got {manifest!r:.80}")
    for g, group in enumerate(manifest):
        _check_group(group, g, source)
    _check_depth(model_json, source)
    return model_json


def _check_depth(model_json: dict[str, Any], source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_JSON_DEPTH`, saying where.

    A depth-first walk with an explicit stack of iterators: no recursion, and memory in
    proportion to the depth, not to the size of the file.
    """
    path: list[str | int] = []
    stack: list[Iterator[tuple[str | int, Any]]] = [iter(model_json.items())]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            if path:
                path.pop()
            continue
        key, value = step
        if isinstance(value, dict | list):
            path.append(key)
            if len(path) > MAX_JSON_DEPTH:
                where = _describe(model_json, tuple(path))
                raise _fail(source, f"{where} nests deeper than {MAX_JSON_DEPTH} levels")
            stack.append(iter(value.items() if isinstance(value, dict) else enumerate(value)))


def _describe(model_json: dict[str, Any], path: tuple[Any, ...]) -> str:
    """``layer 'dense', field 'kernel_initializer.config.a...'``, or the key path elsewhere."""
    node: Any = model_json
    for i, key in enumerate(path):
        node = node[key]
        config = node.get("config") if isinstance(node, dict) else None
        if isinstance(key, int) and isinstance(config, dict) and "class_name" in node:
            rest = path[i + 2 :] if path[i + 1 : i + 2] == ("config",) else path[i + 1 :]
            field = ".".join(map(str, rest[:6]))
            return f"layer {config.get('name', node.get('name'))!r}, field {field + '...'!r}"
    return "key " + repr(".".join(map(str, path[:8])) + "...")


def _check_group(group: Any, g: int, source: str) -> None:
    where = f"weightsManifest[{g}]"
    if not isinstance(group, dict) or "paths" not in group or "weights" not in group:
        raise _fail(source, f"{where} must be an object with 'paths' and 'weights'")
    if not isinstance(group["paths"], list) or not isinstance(group["weights"], list):
        raise _fail(source, f"{where}: 'paths' and 'weights' must be lists")
    for entry in group["weights"]:
        _check_entry(entry, where, source)


def _check_entry(entry: Any, where: str, source: str) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise _fail(source, f"{where}: every weight needs a string 'name', got {entry!r:.120}")
    name = entry["name"]
    for key in ("shape", "dtype"):
        if key not in entry:
            raise _fail(source, f"weight {name!r} in {where} is missing key {key!r}")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _fail(
            source, f"weight {name!r}: 'shape' must be a list of non-negative ints, got {shape!r}"
        )
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
        msg = (
            f"weight {name!r} has unknown dtype {dtype!r}; expected one of "
            f"{', '.join(DTYPE_SIZES)} ({'/'.join(QUANTIZED_SIZES)} only as 'quantization.dtype')"
        )
        raise _fail(source, msg)
    quant = entry.get("quantization")
    if quant is None:  # TF.js itself crashes on an explicit null; we read it as "not quantized"
        return
    if (
        not isinstance(quant, dict)
        or not isinstance(quant.get("dtype"), str)
        or (quant["dtype"] not in QUANTIZED_SIZES)
    ):
        got = quant.get("dtype") if isinstance(quant, dict) else quant
        msg = (
            f"weight {name!r} has unknown quantization dtype {got!r}; expected one of "
            f"{', '.join(QUANTIZED_SIZES)}"
        )
        raise _fail(source, msg)
    if quant["dtype"] != "float16":
        for key in ("min", "scale"):
            value = quant.get(key)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                msg = f"weight {name!r}: {quant['dtype']} quantization needs a finite {key!r}"
                raise _fail(source, msg + f", got {value!r}")
    elif dtype != "float32":
        raise _fail(source, f"weight {name!r}: float16 quantization only applies to float32")
    if dtype not in ("float32", "int32"):  # TF.js: "Unsupported dtype in weight"
        msg = f"weight {name!r}: {quant['dtype']} quantization only applies to float32 or int32"
        raise _fail(source, msg + f", not {dtype}")


def weight_nbytes(entry: dict[str, Any]) -> int:
    """Bytes one manifest entry takes: ``prod(shape)`` x its stored (maybe quantized) dtype."""
    quant = entry.get("quantization")
    size = QUANTIZED_SIZES[quant["dtype"]] if quant else DTYPE_SIZES[entry["dtype"]]
    shape: list[int] = entry["shape"]
    return math.prod(shape) * size


def normal_path(path: str) -> str:
    """A manifest path as a file name below model.json: a leading ``./`` names the same file.

    >>> normal_path("./model.weights.bin"), normal_path("group1-shard1of1.bin")
    ('model.weights.bin', 'group1-shard1of1.bin')
    """
    return path[2:] if path.startswith("./") else path


def _check_path(given: object, source: str) -> str:
    problem = None
    # a leading "./" (TF.js downloads:// writes it) names the same file
    path = normal_path(given) if isinstance(given, str) else ""
    if not path:
        problem = "it is empty or not a string"
    elif "\x00" in path:
        problem = "it contains a NUL byte"
    elif "\\" in path:
        problem = "it contains a backslash"
    elif path.startswith("/"):
        problem = "it is absolute or names another host"
    elif _SCHEME.match(path):
        problem = "it has a URL scheme"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "it has an empty, '.' or '..' segment"
    if problem:
        msg = (
            f"{source}: refusing weight path {given!r}: {problem}; expected a plain relative file "
            "name below model.json, such as 'group1-shard1of1.bin'"
        )
        raise ModelFormatError(msg)
    return path


def weight_paths(model_json: Mapping[str, Any], *, source: str) -> list[str]:
    """Every weight file path in manifest order (duplicates dropped), after rejecting hostile ones.

    A leading ``./`` (as TF.js's ``downloads://`` writes) is accepted and dropped: it names the
    same file; anything that leaves the model's directory is refused.

    Examples
    --------
    >>> manifest = [{"paths": ["./model.weights.bin"], "weights": []}]
    >>> weight_paths({"weightsManifest": manifest}, source="m.json")
    ['model.weights.bin']
    >>> weight_paths({"weightsManifest": [{"paths": ["../x.bin"], "weights": []}]}, source="m")
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.ModelFormatError: m: refusing weight path '../x.bin': it has an empty, \
'.' or '..' segment; expected a plain relative file name below model.json, such as \
'group1-shard1of1.bin'

    Raises
    ------
    ModelFormatError
        For an absolute path, a ``..`` segment, a backslash, a URL scheme or ``//host``, an empty
        name or a NUL byte.
    """
    seen: dict[str, None] = {}
    for group in model_json["weightsManifest"]:
        for path in group["paths"]:
            seen[_check_path(path, source)] = None
    return list(seen)


def expected_weight_bytes(model_json: Mapping[str, Any]) -> int:
    """Total bytes the manifest's weights occupy: sum over groups of ``prod(shape) * itemsize``."""
    return sum(
        weight_nbytes(entry)
        for group in model_json["weightsManifest"]
        for entry in group["weights"]
    )


def check_weight_files(
    model_json: dict[str, Any], weight_files: Mapping[str, bytes], *, source: str
) -> None:
    """Check every manifest file is present and each group's files hold exactly its weights' bytes.

    Raises
    ------
    ModelFormatError
        Naming the missing file, or the group, its files and the expected and actual byte counts.
    """
    for g, group in enumerate(model_json["weightsManifest"]):
        paths = [normal_path(p) for p in group["paths"]]
        missing = [p for p, n in zip(group["paths"], paths, strict=True) if n not in weight_files]
        if missing:
            msg = (
                f"{source}: weight file {missing[0]!r} named in weightsManifest[{g}] is missing; "
                "copy the complete model directory (model.json and every .bin file) again"
            )
            raise ModelFormatError(msg)
        expected = sum(weight_nbytes(entry) for entry in group["weights"])
        actual = sum(len(weight_files[p]) for p in paths)
        if actual != expected:
            names = ", ".join(group["paths"])
            msg = (
                f"{source}: weight files {names} hold {actual:,} bytes but weightsManifest[{g}] "
                f"declares {expected:,} bytes (shape x dtype of its {len(group['weights'])} "
                "weights); the files are truncated, corrupt, or belong to another model.json"
            )
            raise ModelFormatError(msg)
