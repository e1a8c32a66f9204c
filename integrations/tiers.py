"""Support tiers (seed 002): how fast a client's tickets must be answered.

Its own module, without pydantic or the rest of the config, so the command line can
offer `--tier` without importing the whole integrations file model.
"""

from __future__ import annotations

import enum


class Tier(enum.StrEnum):
    SOCIAL = "social"
    STANDARD = "standard"
    PREMIUM = "premium"
