"""Your fine-tuned model, kept the article's way: in the model store, next to the base model.

:class:`PersonalModel` saves what :func:`~mnist_widgets.finetune` made as its own store entry
(``cache://mnist-mine`` by default): TF.js layers files (``model.json`` + weight files, the base
model's topology with new last-layer weights), verified like any entry, loadable by TF.js itself.
The entry records its base model's SHA-256, the number of drawings and the date (in model.json's
``userDefinedMetadata``). :meth:`PersonalModel.load` is cache-first: the stored model when there is
a valid one (no network: offline too), else the base model; :meth:`~PersonalModel.reset` removes
the entry, so the next load is the base again. :meth:`~PersonalModel.download_link` offers the
files for download (a link per file, as ``data:`` URLs: it works in the browser's JupyterLite too).

Examples
--------
>>> mine = PersonalModel(store=ModelStore(tempfile.mkdtemp()))  # doctest: +SKIP
>>> mine.save(mw.finetune(base, canvas.examples))  # doctest: +SKIP
>>> mine.load(base)  # the next visit, network or not  # doctest: +SKIP
Predictor(model='sequential_1', backend='numpy')
"""

from __future__ import annotations

import base64
import html
from typing import Any

from . import engines
from ._warn import warn
from .errors import CacheError, ConfigError
from .finetuning import FineTuneInfo, finetune_info, model_sha256
from .predictor import Predictor
from .store import CacheEntry, ModelStore, parse_name
from .tfjs.artifacts import MODEL_JSON, ModelArtifacts

__all__ = ["DEFAULT_NAME", "PersonalModel", "PersonalModelWarning"]

DEFAULT_NAME = "mnist-mine"


class PersonalModelWarning(UserWarning):
    """The stored personal model is damaged, or was fine-tuned from another base than given."""


class PersonalModel:
    """A fine-tuned model's entry in the model store.

    Parameters
    ----------
    name
        The entry: ``"mnist-mine"`` (default) or ``"cache://NAME"``.
    store
        Default: ``ModelStore()`` (``$MNIST_WIDGETS_CACHE`` or the user cache directory).
    """

    def __init__(self, name: str = DEFAULT_NAME, *, store: ModelStore | None = None) -> None:
        self.name = parse_name(name)
        self.store = store if store is not None else ModelStore()

    @property
    def url(self) -> str:
        """``cache://NAME``."""
        return f"cache://{self.name}"

    def __repr__(self) -> str:
        return f"PersonalModel({self.url!r}, store={str(self.store.root)!r})"

    def exists(self) -> bool:
        """Whether a personal model is stored (its files are checked when it is loaded)."""
        return self.store.exists(self.name)

    def save(self, predictor: Predictor) -> CacheEntry:
        """Store ``predictor``'s model (from :func:`~mnist_widgets.finetune`) as this entry.

        Raises
        ------
        ConfigError
            ``predictor`` is not a fine-tuned model (it records no base model).
        CacheError
            The store cannot be written; a previous personal model is left as it was.
        """
        artifacts = predictor.artifacts
        if artifacts is None or finetune_info(artifacts) is None:
            msg = (
                "save a fine-tuned model: PersonalModel.save(mw.finetune(base, examples)); this "
                "predictor records no base model"
            )
            raise ConfigError(msg)
        # the default engine's graph, built once and kept beside the model (as a download's
        # is): later loads of this version start without importing onnx
        derive = engines.graph_deriver()
        derived = derive(artifacts, None, source=self.url) if derive is not None else {}
        return self.store.write(self.name, artifacts, derived=derived)

    def load(self, base: Predictor | None = None, *, backend: str = "auto") -> Predictor:
        """The stored personal model if there is a valid one, else ``base``: cache-first, offline.

        Parameters
        ----------
        base
            The model to fall back on (``None``: the shipped model). A stored model fine-tuned
            from another base is still returned, with a :class:`PersonalModelWarning`.
        backend
            The engine of the personal model (``base``'s when one is given).
        """
        engine = base.backend if base is not None else backend
        try:
            artifacts, entry = self.store.load(self.name)
        except CacheError as exc:
            if self.store.exists(self.name):  # there is one, but it is damaged: say so
                msg = f"{self.url} cannot be read ({exc}); using the base model"
                warn(PersonalModelWarning(msg))
            return base if base is not None else Predictor(backend=backend)
        onnx = entry.derived.get(engines.ONNX_FILE)
        personal = Predictor._from_files(artifacts, backend=engine, source=self.url, onnx=onnx)
        info = finetune_info(artifacts)
        base_files = base.artifacts if base is not None else None
        if (
            info is not None
            and base_files is not None
            and info.base_sha256 != model_sha256(base_files)
        ):
            msg = (
                f"{self.url} was fine-tuned from another model than the base given (SHA-256 "
                f"{info.base_sha256[:12]}...); it is used as it is. To teach the new base, "
                "run mw.finetune(base, examples) again and save it"
            )
            warn(PersonalModelWarning(msg))
        return personal

    def info(self) -> FineTuneInfo | None:
        """What the stored model records (base SHA-256, drawings, date); ``None`` if none."""
        try:
            return finetune_info(self.store.read(self.name))
        except CacheError:
            return None

    def reset(self) -> bool:
        """Remove the personal model, so :meth:`load` gives the base again; False if none."""
        if not self.store.exists(self.name):
            return False
        self.store.remove_model(self.name)
        return True

    def download_link(self, predictor: Predictor | None = None) -> Any:
        """An HTML widget with one download link per file (``data:`` URLs, no server needed).

        ``predictor`` defaults to the stored personal model.
        """
        import ipywidgets as widgets  # deferred: only the notebook shows links

        artifacts = predictor.artifacts if predictor is not None else self.store.read(self.name)
        if artifacts is None:
            raise ConfigError("this predictor has no TF.js files to download (a keras.Model)")
        return widgets.HTML(download_html(artifacts, self.name))


def download_html(artifacts: ModelArtifacts, name: str) -> str:
    """Links to download ``model.json`` and its weight files, as ``data:`` URLs."""
    files = {MODEL_JSON: artifacts.model_json_bytes(), **artifacts.weight_files}
    links = []
    for rel, data in files.items():
        kind = "application/json" if rel == MODEL_JSON else "application/octet-stream"
        href = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
        links.append(
            f'<a download="{html.escape(rel)}" href="{href}">{html.escape(rel)}</a> '
            f"({len(data):,} bytes)"
        )
    return (
        f"<b>Download {html.escape(name)}</b> (keep the files together; TF.js: "
        f"<code>tf.loadLayersModel(&quot;.../model.json&quot;)</code>): " + " · ".join(links)
    )
