"""The kiosk's screens as Qt Widgets. They only display; kiosk/app.py decides what happens.

Every control a test or a screenshot needs has an objectName; touch targets are large.
"""

from __future__ import annotations

import io

import qrcode
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

TARGET_MIN_HEIGHT = 120  # px; at least 1.5 cm on a 21.5" 1080p kiosk screen


def big_button(name: str, label: str = "") -> QPushButton:
    button = QPushButton(label)
    button.setObjectName(name)
    button.setMinimumHeight(TARGET_MIN_HEIGHT)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the scanner "types"; buttons must not react
    return button


def label(name: str, role: str = "body") -> QLabel:
    widget = QLabel()
    widget.setObjectName(name)
    widget.setProperty("role", role)
    widget.setWordWrap(True)
    widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return widget


def qr_pixmap(data: str, size_px: int = 240) -> QPixmap:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    code.add_data(data)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap.scaled(size_px, size_px, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.FastTransformation)


class HomePage(QWidget):
    def __init__(self, service_ids: list[str]) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = label("home-title", "title")
        self.hint = label("home-hint")
        self.status = label("home-status", "notice")
        self.printer_notice = label("home-printer-notice", "notice")
        layout.addWidget(self.title)
        layout.addWidget(self.printer_notice)
        self.grid = QGridLayout()
        self.services: dict[str, QPushButton] = {}
        for service_id in service_ids:
            button = big_button(f"service-{service_id}")
            button.setProperty("role", "service")
            self.services[service_id] = button
        self.set_columns(3)
        layout.addLayout(self.grid, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.hint)


    def set_columns(self, columns: int) -> None:
        """Fewer, wider targets in elderly mode; the buttons keep their order."""
        for index, button in enumerate(self.services.values()):
            self.grid.removeWidget(button)
            self.grid.addWidget(button, index // columns, index % columns)


def two_lines(text: str, limit: int = 14) -> str:
    """Break a long label at the space nearest its middle: buttons do not wrap by themselves."""
    if len(text) <= limit or " " not in text:
        return text
    middle = len(text) // 2
    spaces = [i for i, char in enumerate(text) if char == " "]
    cut = min(spaces, key=lambda i: abs(i - middle))
    return text[:cut] + "\n" + text[cut + 1 :]


class GuidePage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = label("guide-title", "title")
        self.body = QLabel()
        self.body.setObjectName("guide-body")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.body)
        self.status = label("guide-status", "notice")
        buttons = QHBoxLayout()
        self.back = big_button("back")
        self.notice = big_button("print-notice")
        self.take = big_button("take-ticket")
        for button in (self.back, self.notice, self.take):
            buttons.addWidget(button)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)


class TicketPage(QWidget):
    """The ticket as taken; also the printer-error page, which adds where to go instead."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = label(f"{prefix}-title", "title")
        self.caption = label(f"{prefix}-caption")
        self.number = label(f"{prefix}-number", "number")
        self.service = label(f"{prefix}-service", "subtitle")
        self.details = label(f"{prefix}-details")
        self.qr = QLabel()
        self.qr.setObjectName(f"{prefix}-qr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_caption = label(f"{prefix}-qr-caption")
        self.message = label(f"{prefix}-message", "notice")
        self.done = big_button(f"{prefix}-done")
        for widget in (self.title, self.caption, self.number, self.service, self.details,
                       self.qr, self.qr_caption, self.message, self.done):
            layout.addWidget(widget)


class MessagePage(QWidget):
    """Busy, broker away and refused: a title, a text, and up to two buttons."""

    def __init__(self, prefix: str, with_retry: bool = False) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = label(f"{prefix}-title", "title")
        self.body = label(f"{prefix}-body")
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addStretch(1)
        self.retry = big_button(f"{prefix}-retry") if with_retry else None
        self.back = big_button(f"{prefix}-back")
        if self.retry is not None:
            layout.addWidget(self.retry)
        layout.addWidget(self.back)


STYLE = """
QWidget {{ font-size: {body}px; background: #f4f7fb; color: #1a1a1a; }}
QLabel[role="title"] {{ font-size: {title}px; font-weight: bold; color: #b3121b; }}
QLabel[role="subtitle"] {{ font-size: {subtitle}px; }}
QLabel[role="number"] {{ font-size: {number}px; font-weight: bold; color: #b3121b; }}
QLabel[role="notice"] {{ color: #8a4b00; }}
QPushButton {{ background: #1f5fae; color: white; border-radius: 12px; padding: 12px;
              font-size: {button}px; }}
QPushButton[role="service"] {{ background: #ffffff; color: #1f5fae; border: 3px solid #1f5fae; }}
QPushButton:pressed {{ background: #0f3f7e; }}
"""


def stylesheet(scale: float) -> str:
    return STYLE.format(body=round(22 * scale), title=round(34 * scale),
                        subtitle=round(30 * scale), number=round(110 * scale),
                        button=round(28 * scale))
