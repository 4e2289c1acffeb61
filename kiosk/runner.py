"""`hall kiosk`: run one kiosk — its window, its printer, its scanners — on the hall bus.

With the default site the printer is the simulator (receipts saved as PNG) and the scanner is
the scriptable simulated one: `echo YY0815 > <data_dir>/kiosk1-scanner.fifo` scans a code.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from drivers.scanner.evdev_reader import ScannerReader
from drivers.scanner.keys import KeyDecoder, Scan
from drivers.scanner.simulator import FifoScanner
from firmware_config.kiosk import KioskConfig
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.liveness import WatchdogPinger
from hall_bus.systemd_notify import Notifier
from kiosk.voice_prompt import SpokenPrompt

log = logging.getLogger("hall.kiosk")

DEFAULT_SITE = Path(__file__).resolve().parent.parent / "firmware_config" / "sites" / "demo.yaml"


def pick_kiosk(site: SiteConfig, kiosk_id: str | None) -> KioskConfig | None:
    if kiosk_id is None:
        return site.kiosks[0] if site.kiosks else KioskConfig(id="kiosk1")
    return next((kiosk for kiosk in site.kiosks if kiosk.id == kiosk_id), None)


def add_kiosk_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall kiosk`."""
    add_site_argument(parser)
    parser.add_argument("--kiosk", default=None, help="kiosk id from the site (default: first)")
    parser.add_argument("--data-dir", type=Path, default=None, help="receipts and scanner FIFO")
    parser.add_argument("--windowed", action="store_true", help="a window, not full screen")
    parser.add_argument("--offscreen", action="store_true", help="no display (QT_QPA_PLATFORM)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--scan-fifo", type=Path, default=None, help="simulated scanner FIFO")
    parser.add_argument("--no-voice", action="store_true", help="no spoken elderly-mode prompts")
    parser.add_argument("--prompts-dir", type=Path, default=None,
                        help="write spoken prompts as WAV files here instead of playing them")


def run_kiosk_command(args: argparse.Namespace) -> int:
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    site = load_site_or_exit(args.site or DEFAULT_SITE)
    kiosk = pick_kiosk(site, args.kiosk)
    if kiosk is None:
        print(f"没有这台取号机 / no kiosk {args.kiosk!r} in the site config", file=sys.stderr)
        return 2
    data_dir: Path = args.data_dir or site.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"无法使用数据目录 / cannot use data folder {data_dir}: {exc.strerror}; "
              "pass --data-dir", file=sys.stderr)
        return 2

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.app import KioskWindow
    from kiosk.printing import KioskPrinter
    from kiosk.ticketing import KeyFileError, TicketDesk

    app = QApplication.instance() or QApplication(sys.argv[:1])
    bus = BusClient(site.hall_id, kiosk.id, site.broker)
    try:
        desk = TicketDesk(site, kiosk, bus)
    except KeyFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    # Not waiting: a kiosk that starts while the broker is away shows it and keeps trying.
    bus.start(wait=None)
    printer = KioskPrinter(site, kiosk, bus, receipts_dir=data_dir / f"{kiosk.id}-receipts")
    printer.start()
    prompt = None if args.no_voice else SpokenPrompt(out_dir=args.prompts_dir)
    window = KioskWindow(site, kiosk, desk, printer, voice_prompt=prompt)

    def on_scan(scan: Scan) -> None:
        window.deliver_scan(scan.text)

    scanners: list[FifoScanner | ScannerReader] = []
    for index, scanner in enumerate(kiosk.scanners):
        if scanner.device == "sim":
            fifo = args.scan_fifo or data_dir / f"{kiosk.id}-scanner{index or ''}.fifo"
            scanners.append(FifoScanner(fifo, on_scan, scanner.layout).start())
            log.info("模拟扫码枪 / simulated scanner: echo CODE > %s", fifo)
        else:
            decoder = KeyDecoder(layout=scanner.layout, max_gap_s=scanner.max_gap_ms / 1000)
            scanners.append(ScannerReader(scanner.device, decoder, on_scan).start())

    if kiosk.fullscreen and not args.windowed:
        window.setWindowFlags(Qt.WindowType.FramelessWindowHint
                              | Qt.WindowType.WindowStaysOnTopHint)
        window.showFullScreen()
    else:
        window.resize(1080 * 2 // 3, 1920 * 2 // 3)
        window.show()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        # exit(), not quit(): Qt 6's quit() asks the windows first, and a kiosk window says no.
        app.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Python runs signal handlers only between bytecodes; a timer lets it in while Qt waits.
    # The same timer pings systemd's watchdog: it runs on the GUI's event loop, so a frozen
    # screen stops the pings and the kiosk is restarted.
    notifier = Notifier.from_environment()
    pinger = WatchdogPinger(notifier, [])
    heartbeat = QTimer()
    heartbeat.start(200)
    heartbeat.timeout.connect(pinger.tick)
    if args.seconds is not None:
        QTimer.singleShot(round(args.seconds * 1000), lambda: app.exit(0))

    def on_ready() -> None:
        log.info("取号机就绪 / kiosk %s ready", kiosk.id)
        notifier.ready()

    QTimer.singleShot(0, on_ready)
    try:
        app.exec()
    finally:
        notifier.stopping()
        heartbeat.stop()
        for reader in scanners:
            reader.stop()
        window.allow_close = True
        window.close()
        printer.stop()
        bus.stop()
        if prompt is not None:
            prompt.stop()
        # Delete the window inside Qt's event loop, before Python's exit tears objects down in
        # an order Qt does not expect (which aborts with "shared QObject was deleted directly").
        window.deleteLater()
        app.sendPostedEvents(None, 0)
        app.processEvents()
    return 0
