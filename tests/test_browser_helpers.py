"""mnist_widgets.browser outside the browser, and what a learner in the web app is told."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mnist_widgets import DownloadError, ModelStore, loader
from mnist_widgets.browser import NotInBrowserError, StorageUsage, in_browser, storage_usage


def test_storage_usage_says_it_works_in_the_browser_only() -> None:
    assert not in_browser()
    with pytest.raises(NotInBrowserError, match="JupyterLite site only"):
        asyncio.run(storage_usage())


def test_storage_usage_reads_as_a_sentence() -> None:
    text = str(StorageUsage(used_bytes=42_500_000, quota_bytes=10_000_000_000, persisted=True))
    assert text.startswith("this site stores 42.5 MB")
    assert "10.0 GB" in text and "kept: yes" in text
    assert "may evict" in str(StorageUsage(1, 2, persisted=False))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_miss_in_the_browser_says_what_to_do_there(tmp_path, monkeypatch) -> None:
    """Storage cleared and the site unreachable: the error explains it in browser terms."""
    url = f"http://127.0.0.1:{_closed_port()}/models/mnist/model.json"
    store = ModelStore(tmp_path / "store")
    monkeypatch.setattr(loader, "_in_browser", lambda: True)
    with pytest.raises(DownloadError) as caught:
        loader.fetch_artifacts(url, cache="mnist", store=store, retries=0, timeout=2)
    message = str(caught.value)
    assert "not in this browser's storage" in message and "reload the page" in message
    assert "mnist-widgets cache" not in message  # no shell commands in the browser
    monkeypatch.setattr(loader, "_in_browser", lambda: False)
    with pytest.raises(DownloadError) as plain:
        loader.fetch_artifacts(url, cache="mnist", store=store, retries=0, timeout=2)
    assert "browser" not in str(plain.value)
