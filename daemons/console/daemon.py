"""`hall console`: the duty manager's web console as a daemon.

One bus client watches the whole hall (retained state and events) into a `HallView`; one
asyncio thread serves the web pages from it. A refresher thread asks the engine for the day's
alerts and figures after every (re)connect and then every `REFRESH_S`, so the report and the
charts follow the day without a browser asking. Stopping closes the web server first, so no
browser is told about a state the console no longer follows.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
import threading
import time

from aiohttp import web

from daemons.console.actions import ActionError, ManagerActions
from daemons.console.auth import Accounts, hash_password
from daemons.console.hall_view import HallView
from daemons.console.web import ConsoleWeb
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.lifecycle import run_until_signalled
from hall_bus.liveness import PAUSE_SLICE_S, Heartbeat
from hall_bus.topics import watch_filters

log = logging.getLogger("hall.console")

REFRESH_S = 10.0
START_TIMEOUT_S = 10.0


class ConsoleDaemon:
    def __init__(self, site: SiteConfig, *, listen: str | None = None,
                 port: int | None = None) -> None:
        self.site = site
        self.listen = listen or site.console.listen
        self.port = site.console.port if port is None else port
        self.bus = BusClient(site.hall_id, "console", site.broker)
        # The view tells the web server what changed; the server is built on the view.
        self.view = HallView(site, lambda section: self.web.on_change(section))
        self.actions = ManagerActions(self.bus, self.view)
        self.web = ConsoleWeb(self.view, Accounts(site.console), self.actions)
        self._stopping = threading.Event()
        self._refresh_now = threading.Event()
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._server_error: BaseException | None = None
        self._server = threading.Thread(target=self._serve, name="console-web", daemon=True)
        self._refresher = threading.Thread(target=self._refresh_loop, name="console-refresh",
                                           daemon=True)
        self.heartbeats = [Heartbeat("console-web"), Heartbeat("console-refresh")]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "::", "") else self.listen
        return f"http://{host}:{self.port}/"

    def start(self, wait: float | None = None) -> None:
        for topic_filter in watch_filters(self.site.hall_id):
            self.bus.subscribe(topic_filter, self.view.on_message)
        self.bus.on_connect_hooks.append(self._refresh_now.set)
        self._server.start()
        if not self._started.wait(START_TIMEOUT_S) or self._server_error is not None:
            raise RuntimeError(f"控制台无法监听 / console cannot listen on {self.listen}:"
                               f"{self.port}: {self._server_error}")
        self.bus.start(wait=wait)
        self._refresher.start()
        log.info("值班长控制台 / manager console at %s", self.url)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._refresh_now.set()
        loop = self._loop
        if loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        self._server.join(timeout=10)
        self.bus.stop()

    # --- threads ---------------------------------------------------------------------------------

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            runner = web.AppRunner(self.web.app(), access_log=None, shutdown_timeout=1.0)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.listen, self.port)
            loop.run_until_complete(site.start())
            if self.port == 0:
                self.port = runner.addresses[0][1]
            self._runner = runner
        except OSError as exc:
            self._server_error = exc
            self._started.set()
            return
        self._started.set()
        beating = loop.create_task(self._beat_while_serving())
        loop.run_forever()
        beating.cancel()
        loop.run_until_complete(asyncio.gather(beating, return_exceptions=True))
        loop.close()

    async def _beat_while_serving(self) -> None:
        # A blocked event loop (a handler stuck in a call) stops this beat and the watchdog pings.
        while True:
            self.heartbeats[0].beat()
            await asyncio.sleep(PAUSE_SLICE_S)

    def _refresh_loop(self) -> None:
        beat = self.heartbeats[1]
        while not self._stopping.is_set():
            deadline = time.monotonic() + REFRESH_S
            while not self._refresh_now.wait(PAUSE_SLICE_S) and time.monotonic() < deadline:
                beat.beat()
            beat.beat()
            self._refresh_now.clear()
            if self._stopping.is_set() or not self.bus.connected:
                continue
            try:
                self.actions.refresh_alerts()
                self.actions.refresh_report()
            except ActionError as exc:
                log.warning("控制台未能更新报表 / console could not refresh: %s", exc)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("密码 / password: ")
        if first != getpass.getpass("再输一次 / again: "):
            raise ValueError("两次输入不一致 / the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall console`."""
    add_site_argument(parser)
    parser.add_argument("--listen", default=None, help="address (default from the site)")
    parser.add_argument("--port", type=int, default=None, help="port (default from the site)")
    parser.add_argument("--hash-password", action="store_true",
                        help="read a password (stdin) and print its hash for `console.managers`")


def run_console_command(args: argparse.Namespace) -> int:

    if args.hash_password:
        try:
            password = _read_password()
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
        if len(password) < 8:
            print("密码至少8位 / at least 8 characters", file=sys.stderr)
            return 1
        print(hash_password(password))
        return 0
    site = load_site_or_exit(args.site)
    if not site.console.managers:
        log.warning("站点未配置值班长账号，无人能登录 / no manager accounts: nobody can log in")
    daemon = ConsoleDaemon(site, listen=args.listen, port=args.port)
    return run_until_signalled(daemon, "控制台正在停止 / console stopping")
