"""What a bus client needs to know about its broker: where it is, how to log in, how to retry.

The site's `broker:` section (firmware_config/site.py `BrokerConfig`) is one such description; the
bus reads it through this protocol, so the bus depends on no configuration schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hall_bus.credentials import Login


class ClientTls(Protocol):
    """A TLS connection's files: the CA that signed the broker and, for mutual TLS, our own."""

    @property
    def ca_file(self) -> Path: ...
    @property
    def cert_file(self) -> Path | None: ...
    @property
    def key_file(self) -> Path | None: ...


class BrokerAddress(Login, Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def keepalive_s(self) -> int: ...
    @property
    def reconnect_min_s(self) -> float: ...
    @property
    def reconnect_max_s(self) -> float: ...
    @property
    def tls(self) -> ClientTls | None: ...
