"""The sandbox's own CA and server certificate, made once with trustme and then reused."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme

SERVER_IDENTITIES = ("127.0.0.1", "localhost")
# Long enough that a developer's sandbox never needs a new CA, and so no client re-trusts one.
_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class CertificatePaths:
    """Where the CA certificate, the server certificate chain and its key are."""

    ca: Path
    cert_chain: Path
    key: Path


def certificate_paths(data_dir: Path) -> CertificatePaths:
    """The files ``ensure_certificates`` writes in ``data_dir``."""
    return CertificatePaths(data_dir / "ca.pem", data_dir / "server.pem", data_dir / "server.key")


def ensure_certificates(data_dir: Path) -> CertificatePaths:
    """Reuse the CA and server certificate in ``data_dir``, or make them on first start.

    Reusing them keeps clients that trust ``ca.pem`` working across restarts.
    """
    paths = certificate_paths(data_dir)
    if all(p.is_file() for p in (paths.ca, paths.cert_chain, paths.key)):
        return paths
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Accord Salesforce sandbox")
    now = datetime.now(UTC)
    server = ca.issue_cert(*SERVER_IDENTITIES, not_before=now - timedelta(days=1),
                           not_after=now + _VALIDITY)
    _write(paths.key, server.private_key_pem.bytes(), mode=0o600)
    _write(paths.cert_chain, b"".join(blob.bytes() for blob in server.cert_chain_pems))
    _write(paths.ca, ca.cert_pem.bytes())
    return paths


def _write(path: Path, content: bytes, mode: int = 0o644) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(temporary, path)
