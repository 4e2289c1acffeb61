"""A notice a duty manager broadcasts to the hall: shown on the hall screens, spoken once.

The queue engine keeps it (`post_notice`, `withdraw_notice`) and retains it on
`hall/<id>/queue/notice/state` so a hall screen or announcer that restarts shows the notice in
force; an empty `text_zh` withdraws it.
"""

from __future__ import annotations

from pydantic import Field

from hall_bus.contract.base import MaskedText, Message, NoticeText, Timestamp


class HallNotice(Message):
    """Retained on `hall/<id>/queue/notice/state` by the queue engine; `id` changes with every
    new notice and with its withdrawal."""

    text_zh: NoticeText = Field(
        description="The notice in Chinese; empty: no notice is in force."
    )
    text_en: MaskedText | None = Field(default=None, description="The English version, if any.")
    until: Timestamp | None = Field(
        default=None, description="After this instant the screens stop showing it."
    )
    speak: bool = Field(default=True, description="The voice announcer says it once.")
    actor: str | None = Field(default=None, description="Login of the manager who sent it.")
