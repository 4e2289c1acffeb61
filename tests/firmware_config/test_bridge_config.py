"""The `bridge:` section of a site file: read with the rest, mistakes named with their line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmware_config.loader import ConfigError, default_site_path, load_site

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

SECTION = """
bridge:
  batch_size: 150
  rating_upload_limit_h: 12
  https:
    base_url: https://backend.example.gov.cn/hall-api/
    key_file: /etc/hall/backend.key
    ca_file: /etc/hall/backend-ca.pem
  central_broker:
    host: mqtt.city.example.gov.cn
    username: hall-demo
    password_file: /etc/hall/central.password
    ca_file: /etc/hall/city-ca.pem
"""


def site_with(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(default_site_path().read_text(encoding="utf-8") + section, encoding="utf-8")
    return path


def test_a_bridge_section_is_read(tmp_path: Path) -> None:
    site = load_site(site_with(tmp_path, SECTION))
    assert site.bridge is not None
    assert site.bridge.batch_size == 150 and site.bridge.rating_upload_limit_h == 12
    assert site.bridge.https.base_url == "https://backend.example.gov.cn/hall-api"
    assert site.bridge.central_broker is not None and site.bridge.central_broker.port == 8883


def test_hall_bridge_refuses_a_site_without_bridge_section() -> None:
    township = default_site_path().parent / "township.yaml"
    assert load_site(township).bridge is None
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "bridge", "--site", str(township)],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "the site config has no `bridge:` section" in done.stderr


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  batch_size: 150", "  batch_sise: 150", "batch_sise"),
        ("https://backend.example.gov.cn/hall-api/", "http://example.gov.cn/", "plain http"),
        ("https://backend.example.gov.cn/hall-api/", "ftp://backend/", "https://"),
    ],
)
def test_mistakes_are_named_with_their_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_site(site_with(tmp_path, SECTION.replace(old, new)))
    assert any(issue.line is not None for issue in caught.value.issues)


def test_plain_mqtt_to_the_city_is_refused_off_loopback(tmp_path: Path) -> None:
    section = SECTION.replace("    ca_file: /etc/hall/city-ca.pem\n", "")
    with pytest.raises(ConfigError, match="plain MQTT is allowed only on loopback"):
        load_site(site_with(tmp_path, section))
