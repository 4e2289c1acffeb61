"""Shared set-up of the benchmark scripts: the site they run and a private Mosquitto."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from demo.report import percentile as percentile  # noqa: E402  (re-exported)
from firmware_config.loader import load_site  # noqa: E402
from firmware_config.site import BrokerConfig, SiteConfig  # noqa: E402
from hall_bus.contract.queue import (  # noqa: E402
    PriorityClass,
    QueueEvent,
    QueueEventType,
    TicketState,
    TicketView,
    WindowMode,
    WindowSummary,
)
from hall_bus.ids import utc_now  # noqa: E402


def bench_site(broker: BrokerConfig | None = None) -> SiteConfig:
    """The demo hall with daily limits lifted, so long runs never hit them."""
    site = load_site(None)
    services = [s.model_copy(update={"daily_limit": 9999}) for s in site.services]
    update: dict[str, object] = {"services": services}
    if broker is not None:
        update["broker"] = broker
    return site.model_copy(update=update)


def staff_for(site: SiteConfig, window_ids: list[str]) -> list[str]:
    """A different member of staff allowed at each of these windows, in their order."""
    free = list(site.staff)
    chosen = []
    for window_id in window_ids:
        person = next(p for p in free if not p.windows or window_id in p.windows)
        free.remove(person)
        chosen.append(person.id)
    return chosen


def on_private_broker(prefix: str, run: Callable[[SiteConfig, Path], None]) -> None:
    """`run(site, workdir)`: the bench site with its data in a temporary folder and a private
    Mosquitto of its own there (the machine's broker is never used)."""
    from tests.mosquitto import Mosquitto

    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        workdir = Path(folder)
        broker = Mosquitto(workdir / "mosquitto").start()
        try:
            config = BrokerConfig(port=broker.port, username=broker.user,
                                  password=broker.password)
            run(bench_site(config).model_copy(update={"data_dir": workdir}), workdir)
        finally:
            broker.stop()


def called_event(site: SiteConfig, index: int, service_index: int = 0) -> QueueEvent:
    """A `ticket_called` event of the index-th call, at the site's windows in turn."""
    window = site.windows[index % len(site.windows)]
    service = site.services[service_index % len(site.services)]
    number = f"{service.prefix}{index % 1000:03d}"
    now = utc_now()
    ticket = TicketView(
        ticket_id=f"{date.today()}-{number}-{index}", number=number,
        business_day=str(date.today()), service_id=service.id,
        service_name=service.name_zh, priority_class=PriorityClass.NORMAL,
        state=TicketState.CALLED, issued_at=now, queued_at=now, called_at=now,
        window_id=window.id, window_name=window.name_zh,
    )
    summary = WindowSummary(window_id=window.id, number=window.number, name=window.name_zh,
                            mode=WindowMode.CALLING, current_ticket=number)
    return QueueEvent(type=QueueEventType.TICKET_CALLED, business_day=str(date.today()),
                      ticket=ticket, window=summary)
