"""The published JSON Schema files under ``schemas/``, generated from the contract models.

``python -m services.contracts.schema_files`` rewrites them; a unit test fails when a model
changes without its file (the contract downstream consumers rely on).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.contracts.events import CONTRACTS, dataschema_uri

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_path(event_type: str) -> Path:
    """``schemas/<type without the dev.accord. prefix>/v<N>.schema.json``."""
    _, version = CONTRACTS[event_type]
    return SCHEMAS_DIR / event_type.removeprefix("dev.accord.") / f"v{version}.schema.json"


def expected_schema(event_type: str) -> dict[str, Any]:
    """The schema the model defines today."""
    model, _ = CONTRACTS[event_type]
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": dataschema_uri(event_type),
        "x-cloudevents-type": event_type,
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    """The file text of a schema (stable key order, trailing newline)."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all() -> list[Path]:
    """Rewrite every schema file from its model."""
    written = []
    for event_type in CONTRACTS:
        path = schema_path(event_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(expected_schema(event_type)))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all():
        print(written_path)
