"""The kiosk and service-guide sections of the site config."""

from __future__ import annotations

from pathlib import Path

import pytest
import repo_paths
from pydantic import ValidationError
from queue_fixtures import make_site

from firmware_config.catalogue import ServiceGuide, guide_for
from firmware_config.kiosk import KioskConfig
from firmware_config.loader import ConfigError, load_site

DEMO = repo_paths.REPO / "firmware_config" / "sites" / "demo.yaml"


def _guide(service: str) -> ServiceGuide:
    return ServiceGuide(service=service, summary_zh="说明", summary_en="About",
                        promised_limit_zh="即办", promised_limit_en="On the spot",
                        fees_zh="不收费", fees_en="Free")


def test_demo_hall_has_a_bilingual_guide_for_every_service() -> None:
    site = load_site(DEMO)
    for service in site.services:
        guide = guide_for(site, service.id)
        assert guide is not None, service.id
        assert guide.summary_zh and guide.summary_en
        for material in guide.materials:
            assert material.name_zh and material.name_en
    business = guide_for(site, "business")
    assert business is not None
    assert business.materials[0].name_zh == "公司登记（备案）申请书"
    assert business.legal_basis[0].zh == "《中华人民共和国市场主体登记管理条例》第十九条"
    (kiosk,) = site.kiosks
    assert kiosk.id == "kiosk1" and kiosk.printer.encoding == "gb18030"


def test_guide_for_an_unknown_service_is_refused() -> None:
    site = make_site()
    data = site.model_dump()
    data["catalogue"] = [_guide("household").model_dump(), _guide("parking").model_dump()]
    with pytest.raises(ValidationError, match=r"catalogue.1.service: unknown service 'parking'"):
        type(site).model_validate(data)
    data["catalogue"] = [_guide("tax").model_dump(), _guide("tax").model_dump()]
    with pytest.raises(ValidationError, match="has two guides"):
        type(site).model_validate(data)


def test_kiosk_help_window_must_exist_and_ports_not_shared() -> None:
    site = make_site()
    data = site.model_dump()
    data["kiosks"] = [{"id": "k1", "help_window": "w42"}]
    with pytest.raises(ValidationError, match=r"kiosks.0.help_window: unknown window 'w42'"):
        type(site).model_validate(data)
    data["kiosks"] = [{"id": "k1", "printer_port": "/dev/ttyUSB0"},
                      {"id": "k2", "printer_port": "/dev/ttyUSB0"}]
    with pytest.raises(ValidationError, match="used twice"):
        type(site).model_validate(data)


@pytest.mark.parametrize("template", ["https://x.cn/q/{number}", "https://x.cn/{ticket_id}/{who}"])
def test_ticket_url_template_needs_the_ticket_id(template: str) -> None:
    with pytest.raises(ValidationError, match="ticket_url_template"):
        KioskConfig(id="k1", ticket_url_template=template)


def test_misspelt_printer_key_names_its_line(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("      cut: partial", "      cutter: partial")
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as failure:
        load_site(path)
    line = text.splitlines().index("      cutter: partial") + 1
    assert f"{path}:{line}" in str(failure.value)
    assert "kiosks.0.printer.cutter" in str(failure.value)
