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
from dataclasses import dataclass, field
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

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass
class ModelArtifacts:
    """``model.json`` (parsed) and the weight files it refers to.

    Parameters
    ----------
    model_json
        The parsed ``model.json``: ``modelTopology``, ``weightsManifest``, ``format``, ...
    weight_files
        Manifest path (e.g. ``"group1-shard1of1.bin"``) -> file contents.
    """

    model_json: dict[str, Any]
    weight_files: dict[str, bytes] = field(default_factory=dict)

    def model_json_bytes(self) -> bytes:
        """``model.json`` as UTF-8 bytes, exactly as written to disk (compact, key order kept)."""
        text = json.dumps(
            self.model_json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
        return text.encode("utf-8")

    @property
    def total_bytes(self) -> int:
        """Size of ``model.json`` plus all weight files, in bytes."""
        return len(self.model_json_bytes()) + sum(len(b) for b in self.weight_files.values())


def _no_constant(name: str) -> None:
    # Python's json accepts NaN/Infinity, which are not JSON and which TF.js's JSON.parse rejects.
    raise ValueError(f"{name} is not a JSON value")


def _fail(source: str, what: str) -> ModelFormatError:
    return ModelFormatError(f"{source}: {what}")


def parse_model_json(raw: bytes | str, *, source: str) -> dict[str, Any]:
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
    return model_json


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
    if dtype not in DTYPE_SIZES:
        msg = (
            f"weight {name!r} has unknown dtype {dtype!r}; expected one of "
            f"{', '.join(DTYPE_SIZES)} ({'/'.join(QUANTIZED_SIZES)} only as 'quantization.dtype')"
        )
        raise _fail(source, msg)
    quant = entry.get("quantization")
    if quant is None:  # TF.js itself crashes on an explicit null; we read it as "not quantized"
        return
    if not isinstance(quant, dict) or quant.get("dtype") not in QUANTIZED_SIZES:
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


def weight_nbytes(entry: dict[str, Any]) -> int:
    """Bytes one manifest entry takes: ``prod(shape)`` x its stored (maybe quantized) dtype."""
    quant = entry.get("quantization")
    size = QUANTIZED_SIZES[quant["dtype"]] if quant else DTYPE_SIZES[entry["dtype"]]
    return math.prod(entry["shape"]) * size


def _check_path(path: Any, source: str) -> str:
    problem = None
    if not isinstance(path, str) or not path:
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
            f"{source}: refusing weight path {path!r}: {problem}; expected a plain relative file "
            "name below model.json, such as 'group1-shard1of1.bin'"
        )
        raise ModelFormatError(msg)
    return path


def weight_paths(model_json: dict[str, Any], *, source: str) -> list[str]:
    """Every weight file path in manifest order (duplicates dropped), after rejecting hostile ones.

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


def expected_weight_bytes(model_json: dict[str, Any]) -> int:
    """Total bytes the manifest's weights occupy: sum over groups of ``prod(shape) * itemsize``."""
    return sum(
        weight_nbytes(entry)
        for group in model_json["weightsManifest"]
        for entry in group["weights"]
    )


def check_weight_files(
    model_json: dict[str, Any], weight_files: dict[str, bytes], *, source: str
) -> None:
    """Check every manifest file is present and each group's files hold exactly its weights' bytes.

    Raises
    ------
    ModelFormatError
        Naming the missing file, or the group, its files and the expected and actual byte counts.
    """
    for g, group in enumerate(model_json["weightsManifest"]):
        missing = [p for p in group["paths"] if p not in weight_files]
        if missing:
            msg = (
                f"{source}: weight file {missing[0]!r} named in weightsManifest[{g}] is missing; "
                "copy the complete model directory (model.json and every .bin file) again"
            )
            raise ModelFormatError(msg)
        expected = sum(weight_nbytes(entry) for entry in group["weights"])
        actual = sum(len(weight_files[p]) for p in group["paths"])
        if actual != expected:
            names = ", ".join(group["paths"])
            msg = (
                f"{source}: weight files {names} hold {actual:,} bytes but weightsManifest[{g}] "
                f"declares {expected:,} bytes (shape x dtype of its {len(group['weights'])} "
                "weights); the files are truncated, corrupt, or belong to another model.json"
            )
            raise ModelFormatError(msg)
