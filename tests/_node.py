"""What the tests that run ``tests/js`` scripts under Node (the ``node_tfjs`` fixture) share."""

from __future__ import annotations

import json


def read_json_lines(text: str) -> list[dict]:
    """Parse the JSON-per-line output convention of the tests/js scripts."""
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
