"""The LED strip above a window: what it shows for a call, a recall, a pause and an idle window."""

from __future__ import annotations

from drivers.led.text import Effect


def call_text(number: str, window_number: int) -> str:
    return f"请{number}号到{window_number}号窗口"


def recall_effect() -> Effect:
    # A recall flashes, so a citizen who missed the first call notices the same number again.
    return Effect.FLASH


def idle_text(window_number: int, window_name: str, paused: bool, closed: bool) -> str:
    if closed:
        return f"{window_number}号窗口 暂停服务"
    if paused:
        return f"{window_number}号窗口 暂停办理"
    return f"{window_number}号 {window_name}"
