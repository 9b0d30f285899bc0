"""The model server: static files with ETag / conditional GET, CORS, no dot-files, clean stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3
from _serving import serve_directory

import mnist_widgets.serve as serve
from mnist_widgets.errors import ConfigError


def _get(url: str, method: str = "GET", **kwargs) -> urllib3.BaseHTTPResponse:
    """One plain request (no retries: a refused connection raises NewConnectionError)."""
    return urllib3.request(method, url, retries=False, **kwargs)


def test_serves_files_with_etag_and_answers_conditional_requests_with_304(seed_model_dir):
    with serve_directory(seed_model_dir) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        first = _get(server.url + "weights.bin")
        assert first.status == 200
        assert first.data == (seed_model_dir / "weights.bin").read_bytes()
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = _get(server.url + "weights.bin", headers={"If-None-Match": etag})
        by_date = _get(server.url + "weights.bin", headers={"If-Modified-Since": modified})
        other = _get(server.url + "weights.bin", headers={"If-None-Match": '"other"'})
        assert (again.status, again.data) == (304, b"")
        assert by_date.status == 304
        assert other.status == 200
        log = server.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/weights.bin", 200),
        ("GET", "/weights.bin", 304),
        ("GET", "/weights.bin", 304),
        ("GET", "/weights.bin", 200),
    ]
    assert log[1].headers["If-None-Match"] == etag


def test_cors_headers_let_a_browser_page_on_another_origin_read_the_model(seed_model_dir):
    with serve_directory(seed_model_dir) as server:
        response = _get(server.url + "model.json", headers={"Origin": "http://example.org"})
        preflight = _get(server.url + "model.json", "OPTIONS")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_etag_follows_a_file_replaced_on_disk(tmp_path):
    # tornado caches static ETags per path for the process lifetime; a retrained model must not
    # be answered with "304 Not Modified" because of that.
    (tmp_path / "weights.bin").write_bytes(b"old weights")
    with serve_directory(tmp_path) as server:
        old = _get(server.url + "weights.bin").headers["etag"]
        (tmp_path / "weights.bin").write_bytes(b"new weights!")
        response = _get(server.url + "weights.bin", headers={"If-None-Match": old})
    assert response.status == 200
    assert response.data == b"new weights!"
    assert response.headers["etag"] != old


def test_missing_files_are_404_and_logged(tmp_path):
    with serve_directory(tmp_path) as server:
        assert _get(server.url + "nope.bin").status == 404
        assert [(r.path, r.status) for r in server.requests] == [("/nope.bin", 404)]


def test_stop_releases_the_port_and_a_second_stop_changes_nothing(tmp_path):
    with serve.serve_directory(tmp_path) as server:
        url, port = server.url, server.port
    server.stop()  # idempotent: neither raises nor brings anything back
    with pytest.raises(urllib3.exceptions.NewConnectionError):
        _get(url, timeout=2)
    with serve.serve_directory(tmp_path, port=port) as again:  # the port is free again
        assert _get(again.url + "nope", timeout=2).status == 404


def test_serving_a_file_instead_of_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    with (
        pytest.raises(NotADirectoryError, match="not a directory"),
        serve_directory(tmp_path / "model.json"),
    ):
        pass


def test_cli_serve_runs_until_ctrl_c_and_stops_cleanly(seed_model_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_widgets", "serve", str(seed_model_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"Serving {seed_model_dir} at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split()[0]
        assert _get(url + "model.json").json()["weightsManifest"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the port is released
        try:
            _get(url, timeout=0.5)
        except urllib3.exceptions.NewConnectionError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"{url} still answers after Ctrl-C")


def test_cli_serve_reports_a_busy_port_in_one_line(tmp_path: Path, capsys):
    from mnist_widgets.cli import main

    with serve_directory(tmp_path) as server:
        code = main(["serve", str(tmp_path), "--port", str(server.port)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in err
    assert "--port" in err


@pytest.fixture
def site_with_secrets(tmp_path: Path) -> Path:
    (tmp_path / "model.json").write_text("{}")
    (tmp_path / ".env").write_text("TOKEN=secret")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[remote]")
    (tmp_path / "sub" / ".hidden").mkdir(parents=True)
    (tmp_path / "sub" / ".hidden" / "w.bin").write_bytes(b"x")
    (tmp_path / "link.txt").symlink_to(tmp_path / ".env")  # a plain name leading to a dot-file
    return tmp_path


@pytest.mark.parametrize(
    "path",
    [".env", ".git/config", ".git/", "sub/.hidden/w.bin", "%2eenv", "sub/../.env", "link.txt"],
)
def test_dot_files_and_dot_directories_are_never_served(site_with_secrets, path):
    with serve.serve_directory(site_with_secrets) as server:
        response = _get(server.url + path)
        head = _get(server.url + path, "HEAD")
        assert _get(server.url + "model.json").status == 200
    assert (response.status, head.status) == (404, 404)
    assert b"secret" not in response.data and b"remote" not in response.data


def test_on_request_reports_each_request_before_the_client_has_its_response(seed_model_dir):
    seen: list = []
    with serve.serve_directory(seed_model_dir, on_request=seen.append) as server:
        for _ in range(20):  # no waiting: the record must be there when get() returns
            before = len(seen)
            status = _get(server.url + "model.json").status
            assert len(seen) == before + 1 and seen[-1].status == status == 200
        _get(server.url + ".env")
    assert [(r.method, r.path, r.status) for r in seen[-2:]] == [
        ("GET", "/model.json", 200),
        ("GET", "/.env", 404),
    ]


def test_etag_cache_belongs_to_one_server_and_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "ETAG_CACHE_SIZE", 3)
    for i in range(6):
        (tmp_path / f"w{i}.bin").write_bytes(bytes([i]) * 10)
    first, second = serve.make_app(tmp_path), serve.make_app(tmp_path)
    caches = [app.wildcard_router.rules[0].target_kwargs["etags"] for app in (first, second)]
    with serve.ModelServer(first) as server:
        etags = {_get(f"{server.url}w{i}.bin").headers["etag"] for i in range(6)}
    assert len(etags) == 6
    assert (len(caches[0]), len(caches[1])) == (3, 0)  # capped, and not shared


@pytest.mark.parametrize("port", [-1, 65536, 99999, 8000.0, True])
def test_a_port_outside_0_to_65535_is_refused_not_replaced(tmp_path, port):
    with pytest.raises(ConfigError, match="port must be an integer from 0 to 65535"):
        serve.serve_directory(tmp_path, port=port)


@pytest.mark.parametrize("port", ["99999", "-1", "http", "8000.5"])
def test_cli_serve_refuses_a_bad_port_in_one_line(tmp_path, capsys, port):
    from mnist_widgets.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(tmp_path), "--port", port])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "--port" in err and "0 to 65535" in err and "Traceback" not in err
