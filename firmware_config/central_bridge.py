"""The `connection` section that bridges a hall's Mosquitto to the city's central broker.

Rendered from firmware_config/mosquitto/central-bridge.conf and appended to hall.conf by
mosquitto_config.py when the site has `bridge.central_broker`. Mosquitto wants the remote password
in the configuration itself, so the rendered hall.conf is then written readable by its owner and
group only.
"""

from __future__ import annotations

from pathlib import Path

from firmware_config.bridge import CentralBrokerConfig

TEMPLATE = Path(__file__).resolve().parent / "mosquitto" / "central-bridge.conf"


def render_central_bridge(hall_id: str, central: CentralBrokerConfig) -> str:
    password = central.password_file.read_text(encoding="utf-8").strip()
    if not password or any(c.isspace() for c in password):
        raise ValueError(f"{central.password_file}: the password must be one word on one line")
    if central.ca_file is not None:
        tls_lines = "\n".join((
            "# The central broker's certificate is checked against this CA, host name included.",
            f"bridge_cafile {central.ca_file.resolve()}",
            "bridge_insecure false",
            "bridge_tls_version tlsv1.2",
        ))
    else:
        tls_lines = "# Plain TCP: allowed by the site validator on loopback only."
    template = TEMPLATE.read_text(encoding="utf-8")
    return template.format_map({
        "hall_id": hall_id,
        "central_host": central.host,
        "central_port": str(central.port),
        "central_username": central.username,
        "central_password": password,
        "keepalive_s": str(central.keepalive_s),
        "tls_lines": tls_lines,
    })
