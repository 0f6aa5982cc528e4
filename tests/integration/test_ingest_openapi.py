"""Schemathesis against the running ingest: no 5xx, and no answer contradicts the document.

The schemathesis CLI drives the real process (its pytest plugin does not run under pytest 9);
every check is on — server errors, status codes, content types, response schemas and
headers, invalid data rejected — but for two heuristics scoped off in schemathesis.toml,
each with its reason.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration


def test_given_generated_requests_when_sent_then_answers_conform_to_the_document(
        ingest: str, tmp_path: Path):
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(cli), "--config-file", str(Path(__file__).with_name("schemathesis.toml")),
         "run", f"{ingest}/openapi.json",
         "--max-examples", "40", "--header", f"X-Api-Key: {API_KEY}",
         "--report", "junit", "--report-dir", str(tmp_path), "--no-color"],
        capture_output=True, text=True, timeout=600, check=False,
        env={"PATH": str(cli.parent), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
