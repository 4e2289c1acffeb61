"""A call on the bus → the ticket on the console's floor map, as a browser sees it.

    python bench/console_bench.py [--calls 60]

The queue engine and the console run in this process against a private Mosquitto; Debian's
headless Chromium (Playwright) is logged in to the console. For each call the script asks the
engine for `call_next` at one of the open windows; a MutationObserver in the page notes
`Date.now()` when that window's card shows the called number. Both clocks are this machine's
wall clock. Prints p50, p95 and the worst of (a) the engine's answer → the number on the floor
map (the acceptance asks for it within 1 s) and (b) the request sent → the number on the floor
map, each the whole chain: the engine's event, the broker, the console, its event stream and
the browser's rendering. One call at a time, as at a hall's pace; 16 windows open.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from common import on_private_broker, percentile

from daemons.console.auth import hash_password
from daemons.console.daemon import ConsoleDaemon
from daemons.queue.service import QueueEngine
from firmware_config.console import ConsoleConfig, ManagerAccount
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import CallNextRequest, LoginRequest, TakeTicketRequest
from hall_bus.topics import queue_endpoint

PASSWORD = "bench-password"
# Installs a watcher and returns at once; the time it saw the number lands in window.shownAt.
WATCH = """(args) => {
  const [windowId, number] = args;
  window.shownAt = null;
  const seen = () => {
    const node = document.querySelector(`[data-window="${windowId}"] .ticket`);
    return node && node.textContent === number;
  };
  const observer = new MutationObserver(() => {
    if (seen()) { observer.disconnect(); window.shownAt = Date.now(); }
  });
  observer.observe(document.getElementById("floor"), { childList: true, subtree: true,
                                                        characterData: true });
}"""


def run(site: SiteConfig, workdir: Path, calls: int) -> None:
    from playwright.sync_api import sync_playwright

    account = ManagerAccount(login="bench", name="测试", password_hash=hash_password(PASSWORD))
    site = site.model_copy(update={"console": ConsoleConfig(managers=[account])})
    engine = QueueEngine(site, workdir / "queue.sqlite3")
    engine.start(wait=10)
    console = ConsoleDaemon(site, port=0)
    console.start(wait=10)
    bus = BusClient(site.hall_id, "bench", site.broker, announce=False)
    bus.start(wait=10)
    endpoint = queue_endpoint(site.hall_id)
    windows = []
    used: set[str] = set()
    for window in site.windows:
        staff = next((p for p in site.staff if p.id not in used
                      and (not p.windows or window.id in p.windows)), None)
        if staff is None:
            continue
        used.add(staff.id)
        bus.request(endpoint, "login", LoginRequest(window_id=window.id, staff_id=staff.id))
        windows.append(window)
    after_answer, after_request = [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(console.url)
            page.fill("#login", "bench")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            page.wait_for_selector(".window", timeout=10000)
            for _, window in zip(range(calls), itertools.cycle(windows), strict=False):
                service = window.services[0].service
                number = bus.request(endpoint, "take_ticket", TakeTicketRequest(
                    service_id=service)).data or {}
                expected = number["ticket"]["number"]
                page.evaluate(WATCH, [window.id, expected])
                sent = time.time()
                answer = bus.request(endpoint, "call_next", CallNextRequest(window_id=window.id))
                answered = time.time()
                called = (answer.data or {}).get("ticket") or {}
                if called.get("number") != expected:
                    continue  # the window took an older ticket of a shared service first
                page.wait_for_function("window.shownAt !== null", timeout=10000)
                shown = page.evaluate("window.shownAt") / 1000
                after_answer.append(shown - answered)
                after_request.append(shown - sent)
                time.sleep(0.05)
            browser.close()
    finally:
        bus.stop()
        console.stop()
        engine.stop()
    print(f"{len(after_answer)} calls over {len(windows)} open windows")
    for label, values in (("answer → floor map", after_answer),
                          ("request → floor map", after_request)):
        ms = [v * 1000 for v in values]
        print(f"{label}: p50 {percentile(ms, 0.5):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
              f"worst {max(ms):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    on_private_broker("console-bench-", lambda site, workdir: run(site, workdir, args.calls))


if __name__ == "__main__":
    main()
