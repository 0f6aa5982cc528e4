"""API-key authentication for systems and web forms that post leads."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from pydantic import SecretStr

from services.ingest.problems import ProblemError

API_KEY_HEADER = "X-Api-Key"


def check_api_key(presented: str | None, accepted: Sequence[SecretStr]) -> None:
    """Raise a 401 problem unless ``presented`` is one of the accepted keys.

    Every key is compared in constant time, so timing does not reveal how much matched.
    """
    if not presented:
        raise ProblemError(401, "Missing credentials", f"send your API key in {API_KEY_HEADER}",
                           headers={"WWW-Authenticate": API_KEY_HEADER}, header=API_KEY_HEADER)
    matches = [hmac.compare_digest(presented.encode(), k.get_secret_value().encode())
               for k in accepted]
    if not any(matches):
        raise ProblemError(401, "Invalid credentials", f"the {API_KEY_HEADER} is not valid",
                           headers={"WWW-Authenticate": API_KEY_HEADER}, header=API_KEY_HEADER)
