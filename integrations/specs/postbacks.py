"""The `postbacks:` block of an integration, as written in the integrations file.

    postbacks: {secret: "${BROKER_POSTBACK_SECRET}", window_s: 7200, min_ratio: 0.5, min_leads: 5}

Over the last `window_s`, at least `min_ratio` of the leads delivered to the
broker (accepted by it) should have had a postback; fewer than `min_leads` leads
is too little to judge. The secret is a reference, read where postbacks are
received (the API), never stored or printed.
"""

from __future__ import annotations

from pydantic import Field

from integrations.secrets import SecretRef
from integrations.strict import Strict

# The synthetic check whose results the monitor writes (check names are slugs: no
# colon, so no configured check can take this name).
POSTBACK_CHECK = "postbacks:ratio"


class PostbackSpec(Strict):
    secret: SecretRef
    window_s: float = Field(default=7200, ge=60, le=86_400 * 7)
    min_ratio: float = Field(default=0.5, ge=0, le=1)
    min_leads: int = Field(default=5, ge=1, le=1_000_000)
