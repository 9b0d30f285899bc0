"""TF.js layers models as ``keras.Model``: load and save by path or URL, fetch through the store.

The running layer above :mod:`mnist_widgets.sources` (where artifacts live) and
:mod:`mnist_widgets.loader` (the caching strategies): this module only adds the Keras decode and
encode of :mod:`mnist_widgets.tfjs.codec`. TensorFlow is imported when a model is decoded or
encoded, not when this module is.
"""

from __future__ import annotations

import os
from typing import Any

from ._http import NetworkOptions
from .engines import graph_deriver
from .loader import FetchResult, Strategy, fetch_artifacts
from .sources import read_artifacts, write_artifacts
from .store import ModelStore
from .tfjs.artifacts import DEFAULT_SHARD_BYTES, ModelArtifacts
from .tfjs.codec import decode_model, encode_model
from .tfjs.graph import ModelGraph

__all__ = ["fetch_model", "load_layers_model", "save_layers_model"]


def save_layers_model(
    model: Any,
    dest: str | os.PathLike[str],
    *,
    quantize: str | None = None,
    shard_size_bytes: int = DEFAULT_SHARD_BYTES,
) -> str:
    """Save a Keras model as TF.js ``model.json`` + ``group1-shardNofM.bin`` files, atomically.

    Parameters
    ----------
    model
        A built Sequential or functional Keras model of allowlisted layers.
    dest
        A directory, ``file://`` URL or ``cache://NAME``.
    quantize
        ``None``, ``"float16"``, ``"uint8"`` or ``"uint16"``: store weights in fewer bytes, with
        the TF.js converter's semantics (uint8 makes the MNIST CNN about 4x smaller).
    shard_size_bytes
        Maximum size of one weight file (the converter's default, 4 MiB).

    Returns
    -------
    str
        Where the model was written.

    Examples
    --------
    >>> save_layers_model(model, "models/mnist", quantize="uint8")  # doctest: +SKIP
    'models/mnist'
    """
    artifacts = encode_model(model, quantize=quantize, shard_size_bytes=shard_size_bytes)
    return write_artifacts(artifacts, dest)


def load_layers_model(
    src: str | os.PathLike[str], *, options: NetworkOptions | None = None, cache: bool = True
) -> Any:
    """Load a TF.js layers model (ours, TF.js-saved, or converter output) as a ``keras.Model``.

    Parameters
    ----------
    src
        A model directory, ``model.json`` path, ``file://``, ``http(s)://`` or ``cache://NAME``.
    options, cache
        For ``http(s)://``: network options, and whether to go through the model store
        (see :func:`mnist_widgets.sources.read_artifacts`).

    Examples
    --------
    >>> model = load_layers_model("models/mnist")  # doctest: +SKIP
    >>> model.predict(images).argmax(axis=1)  # doctest: +SKIP
    """
    return decode_model(read_artifacts(src, options=options, cache=cache), source=str(src))


def fetch_model(
    url: str,
    *,
    cache: str | None = None,
    strategy: Strategy = "cache-first",
    store: ModelStore | None = None,
    options: NetworkOptions | None = None,
    **network: Any,
) -> FetchResult:
    """Load the TF.js model at ``url`` as a Keras model, through the local model store.

    :func:`mnist_widgets.loader.fetch_artifacts` with the Keras decode as its ``validate``: the
    model is built before a new version is stored, so a model that does not decode never
    replaces a good cached one. ``result.model`` is the ``keras.Model``.

    Parameters
    ----------
    url, cache, strategy, store, options
        As for :func:`~mnist_widgets.loader.fetch_artifacts`.
    **network
        :class:`~mnist_widgets.loader.NetworkOptions` fields, kept as keywords for
        compatibility: ``timeout``, ``deadline``, ``retries``, ``progress``,
        ``max_model_json_bytes``, ``max_weights_bytes``, ``headers``,
        ``allow_cross_origin_redirects``.

    Examples
    --------
    >>> result = fetch_model(url, strategy="stale-while-revalidate")  # doctest: +SKIP
    >>> result.model.predict(x)  # the cached model, now  # doctest: +SKIP
    >>> result.revalidation.result().status  # doctest: +SKIP
    'updated'
    """
    return fetch_artifacts(
        url,
        cache=cache,
        strategy=strategy,
        store=store,
        options=NetworkOptions.merge(options, **network),
        validate=_decode,
        derive=graph_deriver(),  # a later TF-free load of this version builds no graph
    )


def _decode(artifacts: ModelArtifacts, graph: ModelGraph, *, source: str) -> Any:
    """The loader's ``validate``: the Keras model of a checked graph (not checked again)."""
    return decode_model(artifacts, source=source, graph=graph)
