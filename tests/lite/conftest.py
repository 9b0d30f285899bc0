"""Fixtures of the JupyterLite site's browser tests.

Each test module gets its own copy of the built site (tests change it), a server for that copy
and a browser profile: a module's visits depend on each other and run in order, as one learner's
browser would make them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lite_site import copy_site, static_server


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_site(tmp_path_factory.mktemp(request.module.__name__) / "site")


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Any]:
    with static_server(site) as running:
        yield running


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")
