"""Camera settings in the site config: the sample loads, mistakes name their path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import repo_paths
from pydantic import ValidationError
from queue_fixtures import make_site

from firmware_config.camera import CameraConfig
from firmware_config.loader import ConfigError, load_site
from firmware_config.site import SiteConfig

REPO = repo_paths.REPO
SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.6], [0.1, 0.6]]


def _site_with(camera: dict[str, Any]) -> SiteConfig:
    data = make_site().model_dump(mode="json")
    data["cameras"] = [camera]
    return SiteConfig.model_validate(data)


def test_demo_site_has_a_generated_desk_camera_for_two_windows() -> None:
    site = load_site(REPO / "firmware_config" / "sites" / "demo.yaml")
    (camera,) = site.cameras
    assert camera.source == "generated:desk"
    assert [seat.window for seat in camera.seats] == ["w01", "w02"]
    assert camera.snapshot_on_alert is False


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        ({"seats": [{"window": "w7", "polygon": SQUARE}]}, "cameras.0.seats.0.window: unknown"),
        ({"seats": [{"window": "w1", "polygon": SQUARE}, {"window": "w1", "polygon": SQUARE}]},
         "'w1' listed twice"),
        ({"seats": [{"window": "w1", "polygon": [[0, 0], [1, 1], [0.5, 0.5]]}]},
         "encloses (almost) no area"),
        ({"seats": [{"window": "w1", "polygon": [[0, 0], [1.2, 0], [1, 1]]}]},
         "less than or equal to 1"),
        ({"seats": [{"window": "w1", "polygon": SQUARE, "empty_change": 0.5}]},
         "empty_change must be below occupied_change"),
        ({"waiting_area": {"polygon": SQUARE, "levels": [20, 10]}}, "levels: must rise"),
        ({"lens": "wide"}, "Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_refused_with_their_path(camera: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _site_with({"name": "c1", "source": "usb:0", **camera})
    assert message in str(caught.value)


def test_two_cameras_may_not_share_a_name() -> None:
    data = make_site().model_dump(mode="json")
    data["cameras"] = [{"name": "c1", "source": "usb:0"}, {"name": "c1", "source": "usb:1"}]
    with pytest.raises(ValidationError, match=r"cameras\.1\.name: duplicate 'c1'"):
        SiteConfig.model_validate(data)


def test_yaml_mistake_names_its_line(tmp_path: Path) -> None:
    text = (REPO / "firmware_config" / "sites" / "demo.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "site.yaml"
    bad.write_text(text.replace("      - window: w02\n", "      - window: w99\n"), "utf-8")
    line = next(n for n, row in enumerate(bad.read_text("utf-8").splitlines(), 1)
                if "window: w99" in row)
    with pytest.raises(ConfigError) as caught:
        load_site(bad)
    assert f":{line}: cameras.0.seats.1.window" in str(caught.value)


def test_defaults_are_the_documented_analysis_settings() -> None:
    camera = CameraConfig(name="c1", source="rtsp://cam/stream")
    assert (camera.width, camera.height, camera.analysis_fps) == (640, 360, 2.0)
    assert camera.snapshot_on_alert is False
