"""Shared set-up of the benchmark scripts: the site they run and a private Mosquitto."""

from __future__ import annotations

import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from firmware_config.loader import load_site  # noqa: E402
from firmware_config.site import BrokerConfig, SiteConfig  # noqa: E402


def bench_site(broker: BrokerConfig | None = None) -> SiteConfig:
    """The demo hall with daily limits lifted, so long runs never hit them."""
    site = load_site(None)
    services = [s.model_copy(update={"daily_limit": 9999}) for s in site.services]
    update: dict[str, object] = {"services": services}
    if broker is not None:
        update["broker"] = broker
    return site.model_copy(update=update)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0
