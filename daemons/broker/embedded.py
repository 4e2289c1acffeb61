"""The embedded MQTT broker: amqtt 0.12 in a thread of its own, for development and `hall demo`.

Production halls run Mosquitto (firmware_config/mosquitto/); this broker exists so that one command
starts a whole hall on a laptop. Two amqtt behaviours shape it:

- amqtt binds 0.0.0.0:1883 unless told otherwise, so the bind address is always explicit.
- With anonymous access amqtt throws away a client's session, and the QoS 1 messages queued for it,
  the moment it disconnects. Daemons rely on persistent sessions to catch up after a restart, so
  authentication is always on, through a small plugin that checks a username -> password dict.

With `data_dir`, retained messages (the bus's state and status snapshots) also survive a restart of
the broker; amqtt's own SessionDBPlugin is not used because it never forgets a queued message once
delivered and needs SQLAlchemy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hmac
import logging
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin

from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import BrokerConfig
from hall_bus.liveness import PAUSE_SLICE_S, Heartbeat, WatchdogPinger
from hall_bus.netutil import port_is_free
from hall_bus.systemd_notify import Notifier

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# A persistent session that stays away this long is dropped with its queue; matches the production
# Mosquitto config (10 days covers the week-long national holidays when a hall is shut).
SESSION_EXPIRY_S = 10 * 24 * 3600
RETAINED_DB_NAME = "retained.sqlite3"
_NOISY_LOGGERS = ("amqtt", "transitions")


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not start."""


class PortInUseError(EmbeddedBrokerError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"端口 {port} 已被占用 / port {port} is already in use ({host})")
        self.host = host
        self.port = port


class DictAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Accepts a CONNECT only with a username and password found in the configured dict."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Any) -> bool:
        users: dict[str, str] = self.config.users
        username: str | None = session.username
        expected = users.get(username) if username else None
        if expected is None:
            # Compare anyway so a missing user costs the same time as a wrong password.
            hmac.compare_digest(b"", (session.password or "").encode())
            return False
        return hmac.compare_digest(expected.encode(), (session.password or "").encode())


class RetainedStorePlugin(BasePlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Keeps the broker's retained messages in SQLite so a broker restart does not lose them.

    Writes are synchronous: each is one small row and the bus sees a few per second, so an executor
    would only add ordering questions.
    """

    @dataclass
    class Config:
        path: str = RETAINED_DB_NAME

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._db = sqlite3.connect(self.config.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, data BLOB, qos INTEGER)"
        )
        self._db.commit()

    async def on_broker_pre_start(self) -> None:
        # amqtt clears its retained dict just before this event and opens the listeners after it,
        # so no client can subscribe before the restored messages are in place.
        retained: dict[str, Any] = self.context.retained_messages
        for topic, data, qos in self._db.execute("SELECT topic, data, qos FROM retained"):
            retained[topic] = RetainedApplicationMessage(None, topic, bytes(data), qos)

    async def on_broker_retained_message(
        self, *, client_id: str | None, retained_message: Any
    ) -> None:
        if client_id is not None:
            return  # a message queued for an offline session, not a retained topic
        if retained_message.data:
            self._db.execute(
                "INSERT OR REPLACE INTO retained (topic, data, qos) VALUES (?, ?, ?)",
                (retained_message.topic, bytes(retained_message.data), retained_message.qos or 0),
            )
        else:
            self._db.execute("DELETE FROM retained WHERE topic = ?", (retained_message.topic,))
        self._db.commit()

    async def close(self) -> None:
        self._db.close()


def quiet_amqtt_logging(verbose: bool) -> None:
    """amqtt logs every connection at INFO; the hall's own logs matter more unless debugging."""
    for name in _NOISY_LOGGERS:
        # NOTSET when verbose: follow whatever level the application configured.
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def _is_addr_in_use(exc: BaseException) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, OSError) and current.errno == errno.EADDRINUSE:
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_listening(host: str, port: int) -> bool:
    # A bind probe rather than a connect: amqtt logs an ERROR for every connection that closes
    # without sending CONNECT, and a listening socket is what "accepts connections" means here.
    probe_host = "127.0.0.1" if host == "" else host
    return not port_is_free(probe_host, port)


class EmbeddedBroker:
    """An amqtt broker on host:port, authenticated, run on its own thread and event loop."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 18830,
        users: dict[str, str] | None = None,
        data_dir: Path | None = None,
        *,
        verbose: bool = False,
    ) -> None:
        if users is None:
            defaults = BrokerConfig()
            users = {defaults.username: defaults.password}
        if not users:
            raise ValueError("an embedded broker needs at least one user: anonymous access is off")
        self.host = host
        self._requested_port = port
        self._users = dict(users)
        self._data_dir = data_dir
        self._verbose = verbose
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._state_lock = threading.Lock()
        # Beaten by the broker's own event loop: if that loop blocks, no client is served either.
        self.heartbeat = Heartbeat("embedded-broker-loop")

    @property
    def port(self) -> int:
        """The port actually bound (the requested one until start; a real one after port=0)."""
        return self._port if self._port is not None else self._requested_port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _config(self) -> dict[str, Any]:
        plugins: dict[str, Any] = {f"{__name__}.DictAuthPlugin": {"users": self._users}}
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            plugins[f"{__name__}.RetainedStorePlugin"] = {
                "path": str(self._data_dir / RETAINED_DB_NAME)
            }
        return {
            # IPv6 literals go in bare: amqtt splits host and port at the last colon.
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.host}:{self._requested_port}"}
            },
            # Listing plugins replaces amqtt's defaults, which include anonymous access.
            "plugins": plugins,
            "session_expiry_interval": SESSION_EXPIRY_S,
        }

    def start(self) -> None:
        with self._state_lock:
            if self.running:
                raise EmbeddedBrokerError("嵌入式代理已在运行 / embedded broker already running")
            quiet_amqtt_logging(self._verbose)
            # Checked first so the common mistake gets one clear line instead of amqtt's traceback.
            if self._requested_port != 0 and not port_is_free(self.host, self._requested_port):
                raise PortInUseError(self.host, self._requested_port)
            self._ready.clear()
            self._error = None
            self._port = None
            self._stop_event = None
            self._thread = threading.Thread(
                target=self._thread_main,
                name=f"embedded-broker-{self._requested_port}",
                daemon=True,
            )
            self._thread.start()
            if not self._ready.wait(START_TIMEOUT_S):
                self._error = EmbeddedBrokerError(
                    f"嵌入式代理启动超时 / embedded broker did not start in {START_TIMEOUT_S:.0f} s"
                )
            if self._error is not None:
                error = self._error
                self._stop_thread()
                if _is_addr_in_use(error):
                    raise PortInUseError(self.host, self._requested_port) from error
                if isinstance(error, EmbeddedBrokerError):
                    raise error
                raise EmbeddedBrokerError(
                    f"嵌入式代理无法启动 / embedded broker failed to start: {error}"
                ) from error
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _is_listening(self.host, self.port):
                if time.monotonic() > deadline:
                    self._stop_thread()
                    raise EmbeddedBrokerError(
                        f"嵌入式代理未接受连接 / embedded broker not accepting on "
                        f"{self.host}:{self.port}"
                    )
                time.sleep(0.02)
            log.debug("embedded broker ready on %s:%d", self.host, self.port)

    def stop(self) -> None:
        with self._state_lock:
            self._stop_thread()

    def _stop_thread(self) -> None:
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed after a failed start
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(STOP_TIMEOUT_S + 2)
        if thread.is_alive():
            log.warning("嵌入式代理未能及时停止 / embedded broker thread did not stop in time")
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); a thread has nowhere else to raise
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("嵌入式代理异常退出 / embedded broker stopped with an error")
        finally:
            # amqtt leaves per-connection tasks behind after shutdown; cancel them before closing.
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None
            self._ready.set()

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        broker = Broker(self._config(), loop=asyncio.get_running_loop())
        await broker.start()
        try:
            self._port = self._bound_port(broker)
            self._ready.set()
            while not self._stop_event.is_set():
                self.heartbeat.beat()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_event.wait(), PAUSE_SLICE_S)
        finally:
            try:
                await asyncio.wait_for(broker.shutdown(), STOP_TIMEOUT_S)
            except Exception:
                log.warning(
                    "嵌入式代理关闭不完整 / embedded broker shutdown incomplete", exc_info=True
                )

    def _bound_port(self, broker: Any) -> int:
        if self._requested_port != 0:
            return self._requested_port
        # amqtt offers no public way to ask which port port=0 became; its server objects know.
        server = broker._servers["default"].instance
        port: int = server.sockets[0].getsockname()[1]
        return port


def _embedded_users(settings: BrokerConfig) -> dict[str, str]:
    """The shared development login, plus every per-account password the site has.

    The embedded broker checks logins but has no ACL: per-account rights are Mosquitto's job.
    """
    from firmware_config.broker_credentials import all_passwords

    return {settings.username: settings.password, **all_passwords(settings)}


def add_broker_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall broker`."""
    add_site_argument(parser)
    parser.add_argument("--host", default=None, help="bind address (default from the site)")
    parser.add_argument("--port", type=int, default=None, help="port (default from the site)")


def run_broker_command(args: argparse.Namespace) -> int:
    """`hall broker`: serve until SIGTERM or SIGINT, then stop cleanly."""
    settings = load_site_or_exit(args.site).broker
    host: str = args.host or settings.host
    port: int = args.port if args.port is not None else settings.port
    broker = EmbeddedBroker(
        host,
        port,
        _embedded_users(settings),
        verbose=bool(getattr(args, "verbose", False)),
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            broker.start()
        except EmbeddedBrokerError as exc:
            log.error("%s", exc)
            return 1
        log.info("嵌入式代理已启动 / embedded broker listening on %s:%d", host, broker.port)
        notifier = Notifier.from_environment()
        notifier.ready(f"listening on {host}:{broker.port}")
        pinger = WatchdogPinger(notifier, [broker.heartbeat])
        while not stop.wait(pinger.next_wait(at_most=1.0)):
            if not broker.running:
                log.error("嵌入式代理意外停止 / embedded broker stopped unexpectedly")
                return 1
            pinger.tick()
        log.info("正在停止嵌入式代理 / stopping embedded broker")
        notifier.stopping()
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
