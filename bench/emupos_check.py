"""Check our ticket bytes and status handling against an independent ESC/POS simulator, emupos.

emupos (PyPI, Apache-2.0) needs Python 3.13, so it lives in its own virtual environment:

    python3.13 -m venv /tmp/emupos && /tmp/emupos/bin/pip install emupos
    python bench/emupos_check.py --emupos /tmp/emupos/bin/emupos

It runs an emupos printer on a free TCP port, prints a ticket through our driver (which first
asks DLE EOT 1, 2 and 4), reads back the receipt emupos rendered and decodes its QR code, then
sets emupos's faults one by one and prints what our driver makes of each. emupos ignores `FS &`,
so Chinese text shows as code-page glyphs there; the bytes, the QR and the status are the check.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zxingcpp
from common import REPO  # noqa: F401  (puts the repository on sys.path)
from PIL import Image

from drivers.printer.ticket_layout import TicketContent, render_ticket
from drivers.printer.ticket_printer import PrintFailed, TicketPrinter
from firmware_config.printer_profile import PrinterProfile
from hall_bus.netutil import free_port

TICKET = TicketContent(
    hall_name="示例县政务服务中心", number="A023", service_name="企业开办", people_ahead=3,
    estimated_wait_min=45, issued_at="2024-03-04 09:05", window_hint="请到 10 号窗口",
    qr_url="https://hall.example.cn/q/demo-county/2024-03-04-A023", notice="过号请到综合咨询台。",
)


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"emupos did not listen on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emupos", required=True, help="path of the emupos executable")
    args = parser.parse_args()
    emupos = args.emupos
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        printer_port, api_port = free_port(), free_port()
        api = f"http://127.0.0.1:{api_port}"
        (work / "emupos.yaml").write_text(
            "schema: 1\n"
            f"api: {{host: 127.0.0.1, port: {api_port}}}\n"
            "devices:\n"
            "  - id: front\n    type: printer\n    profile: xprinter-xp80t\n"
            f"    connections:\n      - tcp: {{port: {printer_port}}}\n"
            f"    receipts_dir: {work / 'receipts'}\n    job_idle_timeout_ms: 500\n",
            encoding="utf-8",
        )
        server = subprocess.Popen([emupos, "--api", api, "run", "--config",
                                   str(work / "emupos.yaml")], cwd=work,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(printer_port)
            printer = TicketPrinter(f"tcp://127.0.0.1:{printer_port}", PrinterProfile())
            job = render_ticket(TICKET, printer.profile)
            result = printer.print_job(job)
            print(f"ticket: {len(job)} bytes sent; status after: {result.status_after}")
            time.sleep(1.5)  # emupos closes a receipt after its idle timeout
            shown = subprocess.run([emupos, "--api", api, "receipt", "show", "--device",
                                    "front", "--json", "--save", str(work / "receipt.png")],
                                   capture_output=True, text=True, check=True)
            receipt = json.loads(shown.stdout)
            codes = [r.text for r in zxingcpp.read_barcodes(Image.open(work / "receipt.png"))]
            print(f"emupos receipt keys: {sorted(receipt)}")
            print(f"QR decoded from emupos's picture: {codes}")
            if codes != [TICKET.qr_url]:
                failures += 1
                print("MISMATCH: QR", file=sys.stderr)
            text = json.dumps(receipt, ensure_ascii=False)
            for ascii_part in ("A023", "Time: 2024-03-04 09:05", "People ahead: 3"):
                found = ascii_part in text
                print(f"text {ascii_part!r} in emupos receipt: {found}")
                failures += not found
            for fault, expected in (("paper-out", "out"), ("cover-open", "cover"),
                                    ("paper-near-end", "near_end"), ("offline", "unknown")):
                subprocess.run([emupos, "--api", api, "fault", "set", "front", fault],
                               check=True, capture_output=True)
                status = printer.status()
                try:
                    printer.print_job(b"\x1b@test\n")
                    refused = False
                except PrintFailed:
                    refused = True
                print(f"fault {fault}: our status {status}; job refused: {refused}")
                subprocess.run([emupos, "--api", api, "fault", "clear", "front", fault],
                               check=True, capture_output=True)
                ok = {"out": status.paper.value == "out" and refused,
                      "cover": status.cover_open is True and refused,
                      "near_end": status.paper.value == "near_end" and not refused,
                      "unknown": status.online is not True and refused}[expected]
                failures += not ok
            printer.stop()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print("OK" if failures == 0 else f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
