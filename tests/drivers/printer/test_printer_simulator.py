"""The ticket printer driver against the simulated printer on a real pty and a real TCP socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from drivers.printer.simulator import PrinterSimulator, PtyPrinter, TcpPrinter
from drivers.printer.status import PaperState
from drivers.printer.ticket_layout import TicketContent, render_ticket
from drivers.printer.ticket_printer import PrintFailed, TicketPrinter
from firmware_config.printer_profile import PrinterProfile

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

TICKET = TicketContent(
    hall_name="示例县政务服务中心",
    number="B007",
    service_name="不动产登记",
    people_ahead=5,
    estimated_wait_min=25,
    issued_at="2024-03-04 10:12",
    window_hint="请到 13 号或 14 号窗口",
    qr_url="https://q.example.cn/t/2024-03-04-B007",
    notice="过号请到综合咨询台。",
)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[PrinterSimulator, PtyPrinter]]:
    printer = PrinterSimulator(out_dir=tmp_path / "receipts")
    pty = PtyPrinter(printer).start()
    yield printer, pty
    pty.stop()


def _decode_qr(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_ticket_over_pty_renders_chinese_and_a_decodable_qr(
    sim: tuple[PrinterSimulator, PtyPrinter], tmp_path: Path
) -> None:
    simulator, pty = sim
    printer = TicketPrinter(pty.path, PrinterProfile())
    result = printer.print_job(render_ticket(TICKET, printer.profile))
    assert result.status_after.ready
    (receipt,) = simulator.wait_receipts(1, timeout=5)
    assert receipt.lines[0] == "示例县政务服务中心"
    assert "B007" in receipt.lines
    assert "不动产登记" in receipt.lines
    assert "请到 13 号或 14 号窗口" in receipt.lines
    assert receipt.unknown_bytes == []
    assert receipt.image is not None
    assert _decode_qr(receipt.image) == ["https://q.example.cn/t/2024-03-04-B007"]
    saved = Image.open(tmp_path / "receipts" / "ticket-0001.png")
    assert _decode_qr(saved) == ["https://q.example.cn/t/2024-03-04-B007"]
    printer.stop()


def test_image_fallback_ticket_still_scans(sim: tuple[PrinterSimulator, PtyPrinter]) -> None:
    simulator, pty = sim
    profile = PrinterProfile(chinese_font=False, qr="image")
    printer = TicketPrinter(pty.path, profile)
    printer.print_job(render_ticket(TICKET, profile))
    (receipt,) = simulator.wait_receipts(1, timeout=5)
    assert receipt.rasters >= 8
    assert receipt.image is not None
    assert _decode_qr(receipt.image) == ["https://q.example.cn/t/2024-03-04-B007"]
    printer.stop()


def test_forgetting_chinese_mode_shows_garbage_like_a_real_printer(
    sim: tuple[PrinterSimulator, PtyPrinter],
) -> None:
    simulator, pty = sim
    profile = PrinterProfile(chinese_mode=False)
    printer = TicketPrinter(pty.path, profile)
    printer.print_job(render_ticket(TICKET, profile))
    (receipt,) = simulator.wait_receipts(1, timeout=5)
    assert receipt.lines[0] != "示例县政务服务中心"
    printer.stop()


@pytest.mark.parametrize(
    ("fault", "paper", "cover_open", "online"),
    [
        ("paper_out", PaperState.OUT, False, False),
        ("cover_open", PaperState.OK, True, False),
        ("near_end", PaperState.NEAR_END, False, True),
    ],
)
def test_status_reports_injected_faults(
    sim: tuple[PrinterSimulator, PtyPrinter],
    fault: str,
    paper: PaperState,
    cover_open: bool,
    online: bool,
) -> None:
    simulator, pty = sim
    printer = TicketPrinter(pty.path, PrinterProfile())
    setattr(simulator.faults, fault, True)
    status = printer.status()
    assert (status.online, status.paper, status.cover_open) == (online, paper, cover_open)
    printer.stop()


def test_paper_out_refuses_the_job_before_sending_it(
    sim: tuple[PrinterSimulator, PtyPrinter],
) -> None:
    simulator, pty = sim
    printer = TicketPrinter(pty.path, PrinterProfile())
    simulator.faults.paper_out = True
    with pytest.raises(PrintFailed) as failure:
        printer.print_job(render_ticket(TICKET, printer.profile))
    assert failure.value.status.paper is PaperState.OUT
    assert simulator.receipts == []
    # Only the status queries (DLE EOT 1, 2, 4: three bytes each) reached the printer.
    assert simulator.bytes_received == 9
    simulator.faults.paper_out = False
    printer.print_job(render_ticket(TICKET, printer.profile))
    assert len(simulator.wait_receipts(1, timeout=5)) == 1
    printer.stop()


def test_silent_printer_is_unknown_never_paper_ok(
    sim: tuple[PrinterSimulator, PtyPrinter],
) -> None:
    simulator, pty = sim
    printer = TicketPrinter(pty.path, PrinterProfile(status_timeout_s=0.1))
    simulator.faults.offline = True
    status = printer.status()
    assert (status.online, status.paper, status.cover_open) == (None, PaperState.UNKNOWN, None)
    assert not status.ready
    with pytest.raises(PrintFailed):
        printer.print_job(render_ticket(TICKET, printer.profile))
    # Back on line, a full status answer: the pty delivers in order, so once the simulator has
    # answered it, it has seen every byte sent while it was silent.
    simulator.faults.offline = False
    assert printer.status().ready
    # Silent to the first query, the printer was asked nothing more: one DLE EOT 1 per status
    # (the job's own check included), not three queries each waiting out its timeout.
    assert simulator.bytes_discarded == 2 * 3
    printer.stop()


class SlowIntakePrinter(PrinterSimulator):
    """A printer that takes a second to take a job in before it reads the next query, as one
    printing a raster QR code over a slow line (or a simulator on a busy machine) does."""

    def receive(self, data: bytes) -> bytes:
        if len(data) > 3:  # more than one DLE EOT query: a job
            time.sleep(1.0)
        return super().receive(data)


def test_a_printer_slow_to_take_the_job_in_is_not_reported_silent(tmp_path: Path) -> None:
    simulator = SlowIntakePrinter(out_dir=tmp_path / "receipts")
    pty = PtyPrinter(simulator).start()
    printer = TicketPrinter(pty.path, PrinterProfile(status_timeout_s=0.1))
    try:
        result = printer.print_job(render_ticket(TICKET, printer.profile))
        assert result.status_after.ready
        assert len(simulator.wait_receipts(1, timeout=5)) == 1
    finally:
        printer.stop()
        pty.stop()


def test_profile_without_status_prints_blind(sim: tuple[PrinterSimulator, PtyPrinter]) -> None:
    simulator, pty = sim
    printer = TicketPrinter(pty.path, PrinterProfile(answers_status=False))
    result = printer.print_job(render_ticket(TICKET, printer.profile))
    assert result.status_after.paper is PaperState.UNKNOWN
    assert len(simulator.wait_receipts(1, timeout=5)) == 1
    printer.stop()


def test_network_printer_and_reconnect_after_the_printer_restarts() -> None:
    simulator = PrinterSimulator()
    server = TcpPrinter(simulator).start()
    printer = TicketPrinter(server.port_url, PrinterProfile())
    printer.print_job(render_ticket(TICKET, printer.profile))
    assert len(simulator.wait_receipts(1, timeout=5)) == 1
    host, port = server.address
    server.stop()
    assert not printer.status().ready  # the connection is gone: unknown, not OK
    server = TcpPrinter(simulator, host, port).start()
    deadline = time.monotonic() + 5
    while not printer.status().ready and time.monotonic() < deadline:
        time.sleep(0.05)
    printer.print_job(render_ticket(TICKET, printer.profile))
    assert len(simulator.wait_receipts(2, timeout=5)) == 2
    printer.stop()
    server.stop()


def test_missing_serial_port_is_a_failed_print_not_a_crash() -> None:
    printer = TicketPrinter("/dev/does-not-exist", PrinterProfile())
    assert printer.status().online is None
    with pytest.raises(PrintFailed):
        printer.print_job(b"\x1b@")


@pytest.mark.parametrize("scheme", ["usb:{}", "serial:{}?baud=19200"])
def test_device_file_and_serial_port_strings(
    sim: tuple[PrinterSimulator, PtyPrinter], scheme: str
) -> None:
    # usb: opens the path as the kernel's usblp device file would be opened; a pty stands in.
    simulator, pty = sim
    printer = TicketPrinter(scheme.format(pty.path), PrinterProfile())
    assert printer.status().ready
    printer.print_job(render_ticket(TICKET, printer.profile))
    assert "B007" in simulator.wait_receipts(1, timeout=5)[0].lines
    printer.stop()
