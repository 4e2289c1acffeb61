"""docs/deployment-security.md shows the broker accounts exactly as the code derives them."""

from __future__ import annotations

import repo_paths

from firmware_config.broker_accounts import Role, render_table, site_accounts
from firmware_config.loader import load_site

REPO = repo_paths.REPO
DOC = REPO / "docs" / "deployment-security.md"


def test_account_table_matches_the_code() -> None:
    demo = load_site(REPO / "firmware_config" / "sites" / "demo.yaml")
    township = load_site(REPO / "firmware_config" / "sites" / "township.yaml")
    pads = [a for a in site_accounts(township) if a.role is Role.NETWORK_PAD][:1]
    expected = render_table(site_accounts(demo), f"hall/{demo.hall_id}") + render_table(
        pads, f"hall/{township.hall_id}").split("\n", 2)[2]
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- accounts:begin -->\n", "<!-- accounts:end -->"
    shown = text[text.index(begin) + len(begin):text.index(end)]
    assert shown == expected, "regenerate the table in docs/deployment-security.md"


def test_every_role_is_in_the_document() -> None:
    text = DOC.read_text(encoding="utf-8")
    for role in Role:
        if role is not Role.DEVELOPMENT:
            assert str(role) in text or role is Role.NETWORK_SCREEN, role
    assert "network screen" in text
