"""TLS settings of the hall bus: the broker's TLS listener and a daemon's TLS connection.

Devices elsewhere on the hall's LAN (kiosks, network pads and screens on their own boards) reach
the controller's Mosquitto over TLS; the daemons on the controller itself stay on the loopback
listener. Paths are absolute on the machine that uses them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsListenerConfig(_Strict):
    host: str = Field(default="0.0.0.0", description="Address of the hall network interface.")
    port: int = Field(default=8883, ge=1, le=65535, description="TLS port for LAN devices.")
    cert_file: Path = Field(description="The broker's certificate (PEM).")
    key_file: Path = Field(description="The broker's private key (PEM), readable by mosquitto.")
    ca_file: Path = Field(description="CA that signed the broker's and the devices' certificates.")
    require_certificate: bool = Field(
        default=False,
        description="Devices must also show a certificate signed by ca_file (mutual TLS); the "
        "password is still checked.",
    )


class ClientTlsConfig(_Strict):
    ca_file: Path = Field(description="CA that signed the broker's certificate.")
    cert_file: Path | None = Field(default=None, description="This device's certificate.")
    key_file: Path | None = Field(default=None, description="This device's private key.")
