"""The one download stack (urllib3): proxies, NO_PROXY, TLS, and no second HTTP library.

Faults of servers are in test_faults.py; this file covers what sits between us and a server.
"""

from __future__ import annotations

import functools
import http.server
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _models import write_tiny_model
from _serving import serve_directory

from mnist_widgets.errors import ConfigError, DownloadError
from mnist_widgets.loader import NetworkOptions, fetch_artifacts
from mnist_widgets.sources import read_artifacts

SHARD = "group1-shard1of1.bin"


class _ForwardProxy(http.server.ThreadingHTTPServer):
    """A plain HTTP forward proxy for one fictitious host: it answers ``GET http://HOST/PATH``
    from ``root`` and records every request line and its Proxy-Authorization header."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _ForwardProxy

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        file = self.server.root / urlsplit(self.path).path.lstrip("/")
        if not self.path.startswith("http://") or not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Path:
    write_tiny_model(tmp_path / "site" / "tiny", seed=1)
    return tmp_path / "site"


@pytest.fixture
def proxy(site: Path) -> Iterator[_ForwardProxy]:
    server = _ForwardProxy(site)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_downloads_go_through_the_environment_s_proxy(site, proxy, no_proxy_env):
    # The host does not exist: only a proxy that is really used can answer for it.
    no_proxy_env.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:p%40ss@"))
    url = "http://models.invalid/tiny/model.json"
    result = fetch_artifacts(url, strategy="network-only", retries=0)
    assert result.artifacts.weight_files == read_artifacts(site / "tiny").weight_files
    assert [path for path, _ in proxy.seen] == [url, f"http://models.invalid/tiny/{SHARD}"]
    assert {auth for _, auth in proxy.seen} == {"Basic dXNlcjpwQHNz"}  # user:p@ss


def test_all_proxy_is_used_when_no_scheme_proxy_is_set(site, proxy, no_proxy_env):
    no_proxy_env.setenv("ALL_PROXY", proxy.url)
    fetch_artifacts("http://models.invalid/tiny/model.json", strategy="network-only", retries=0)
    assert len(proxy.seen) == 2


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
def test_no_proxy_hosts_are_reached_directly(site, proxy, no_proxy_env, no_proxy):
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    no_proxy_env.setenv("NO_PROXY", no_proxy)
    with serve_directory(site) as server:
        result = fetch_artifacts(server.url + "tiny/model.json", strategy="network-only")
        assert [r.path for r in server.requests] == ["/tiny/model.json", f"/tiny/{SHARD}"]
    assert result.source == "network"
    assert proxy.seen == []


def test_an_unsupported_proxy_scheme_is_a_download_error_naming_the_setting(no_proxy_env):
    no_proxy_env.setenv("HTTP_PROXY", "socks5://user:secret@127.0.0.1:1080")
    with pytest.raises(DownloadError, match="HTTP_PROXY") as info:
        fetch_artifacts("http://models.invalid/tiny/model.json", strategy="network-only")
    assert "socks5://127.0.0.1:1080" in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    "headers", [{"X-Key": "a\r\nInjected: 1"}, {"Bad Name": "v"}, {"X-Key": "€uro"}, {"X": 1}]
)
def test_headers_that_cannot_be_sent_are_a_config_error(headers):
    with pytest.raises(ConfigError, match="headers"):
        NetworkOptions(headers=headers)


_WITHOUT_HTTPX = textwrap.dedent(
    """
    import sys
    import mnist_widgets
    from mnist_widgets.loader import fetch_artifacts
    result = fetch_artifacts(sys.argv[1], strategy="network-only")
    assert result.source == "network", result
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("httpx", "httpcore", "anyio")))
    """
)


def test_a_download_imports_no_second_http_library(site):
    with serve_directory(site) as server:
        proc = subprocess.run(
            [sys.executable, "-c", _WITHOUT_HTTPX, server.url + "tiny/model.json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_project_no_longer_depends_on_httpx():
    root = Path(__file__).resolve().parents[1]
    pins = (root / "lite" / "requirements-kernel.txt").read_text()
    assert "httpx" not in (root / "pyproject.toml").read_text()
    assert not any(line.startswith(("httpx", "httpcore", "anyio", "h11")) for line in pins.split())
    assert "HTTP_TRANSPORT" not in (root / "README.md").read_text()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), valid for a day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_site(site: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The tiny model over HTTPS on 127.0.0.1, with a self-signed certificate."""
    cert, key = _self_signed(tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/tiny/model.json", cert
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_verifies_certificates_and_trusts_ssl_cert_file(https_site, no_proxy_env):
    url, cert = https_site
    with pytest.raises(DownloadError, match=r"(?i)certificate verify failed"):
        fetch_artifacts(url, strategy="network-only", retries=0)
    no_proxy_env.setenv("SSL_CERT_FILE", str(cert))  # the user's own CA, as OpenSSL reads it
    assert fetch_artifacts(url, strategy="network-only", retries=0).source == "network"
