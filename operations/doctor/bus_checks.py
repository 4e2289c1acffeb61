"""What the bus says about the hall: the broker answers, and the retained availability of every
daemon and device the site lists, and the retained state of every kiosk's printer.

Every daemon's bus client announces `online` retained on `<root>/<node>/status` and leaves a last
will `offline`; drivers publish their devices' `<root>/<node>/<device>/status` the same way. A
retained message therefore tells the doctor how each one was last seen, even after a crash.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from pydantic import ValidationError

from firmware_config.broker_accounts import METRICS, camera_account
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient, BusError
from hall_bus.contract import channels
from hall_bus.contract.kiosk import KioskPrinterState, PrinterPaper
from operations.doctor.findings import Finding, Level

# Reads the whole hall and writes nothing; with per-daemon accounts this one has exactly that.
DOCTOR_ACCOUNT = METRICS


@dataclass(frozen=True)
class Expected:
    area: str  # daemon or device
    name: str  # as the report shows it
    topic: str  # its retained status
    # The console and the metrics exporter run where the hall chose to install them: checked
    # when they have ever been on the bus, not missed when they never were.
    required: bool = True


def expected_statuses(site: SiteConfig) -> list[Expected]:
    h = site.hall_id

    def node(name: str) -> Expected:
        return Expected("daemon", name, channels.NODE_STATUS.topic(h, node=name))

    daemons = [node("queue"), node("voice")]
    if site.bridge is not None:
        daemons.append(node("bridge"))
    daemons += [node(line.id) for line in site.lines]
    daemons += [node(kiosk.id) for kiosk in site.kiosks]
    # A camera supervisor's bus node is named as its broker account.
    daemons += [node(camera_account(camera.name)) for camera in site.cameras]
    daemons += [Expected("daemon", name, channels.NODE_STATUS.topic(h, node=name),
                         required=False)
                for name in ("console", "metrics")]
    devices = [Expected("device", f"{line.id}/{device.id}",
                        channels.LINE_DEVICE_STATUS.topic(h, line=line.id, device=device.id))
               for line in site.lines for device in line.devices]
    devices += [Expected("device", f"camera/{camera.name}",
                         channels.CAMERA_STATUS.topic(h, camera=camera.name))
                for camera in site.cameras]
    # A network pad or screen is a node of its own on the bus.
    devices += [Expected("device", device.id, channels.NODE_STATUS.topic(h, node=device.id))
                for device in site.network_devices]
    return daemons + devices


class RetainedSnapshot:
    """Retained messages of the hall, collected for a moment after subscribing."""

    def __init__(self) -> None:
        self.messages: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def add(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages[topic] = payload

    def get(self, topic: str) -> bytes | None:
        with self._lock:
            return self.messages.get(topic)


def take_snapshot(site: SiteConfig, connect_s: float, settle_s: float
                  ) -> tuple[Finding, RetainedSnapshot | None]:
    broker = site.broker
    where = f"{broker.host}:{broker.port}"
    snapshot = RetainedSnapshot()
    try:
        client = BusClient(site.hall_id, "doctor", broker, announce=False, clean_session=True,
                           client_id=f"{site.hall_id}-doctor-{time.monotonic_ns()}",
                           account=DOCTOR_ACCOUNT)
        for channel in (channels.NODE_STATUS, channels.DEVICE_STATUS,
                        channels.KIOSK_PRINTER_STATE):
            client.subscribe(channel.filter(site.hall_id), snapshot.add)
        client.start(wait=connect_s)
    except (BusError, OSError, ValueError) as exc:
        return Finding("broker", where, Level.FAILED, f"无法连接 / unreachable: {exc}"), None
    try:
        # Retained messages arrive right after the subscription; a short pause collects them.
        time.sleep(settle_s)
    finally:
        client.stop()
    return Finding("broker", where, Level.OK, "可连接 / reachable with the site's login"), snapshot


def status_findings(site: SiteConfig, snapshot: RetainedSnapshot) -> list[Finding]:
    findings = []
    for expected in expected_statuses(site):
        raw = snapshot.get(expected.topic)
        if raw is None and not expected.required:
            continue
        if raw is None:
            findings.append(Finding(expected.area, expected.name, Level.FAILED,
                                    "从未上线 / never seen on the bus"))
        elif raw == topics.ONLINE.encode():
            findings.append(Finding(expected.area, expected.name, Level.OK, "在线 / online"))
        elif raw == topics.OFFLINE.encode():
            what = "已停止 / stopped" if expected.area == "daemon" else "离线 / offline"
            findings.append(Finding(expected.area, expected.name, Level.FAILED, what))
        else:
            findings.append(Finding(expected.area, expected.name, Level.UNKNOWN,
                                    f"状态不明 / unreadable status {raw[:40]!r}"))
    return findings


_PAPER = {
    PrinterPaper.OK: (Level.OK, "纸张正常 / paper ok"),
    PrinterPaper.NEAR_END: (Level.WARNING, "纸将用完 / paper near end"),
    PrinterPaper.OUT: (Level.FAILED, "缺纸 / paper out"),
    PrinterPaper.UNKNOWN: (Level.WARNING, "打印机未应答 / printer did not answer"),
}


def printer_findings(site: SiteConfig, snapshot: RetainedSnapshot) -> list[Finding]:
    findings = []
    for kiosk in site.kiosks:
        raw = snapshot.get(channels.KIOSK_PRINTER_STATE.topic(site.hall_id, kiosk=kiosk.id))
        if raw is None:
            findings.append(Finding("printer", kiosk.id, Level.FAILED,
                                    "无打印机状态 / no printer state on the bus"))
            continue
        try:
            state = KioskPrinterState.model_validate_json(raw)
        except ValidationError:
            findings.append(Finding("printer", kiosk.id, Level.UNKNOWN,
                                    "打印机状态无法读取 / unreadable printer state"))
            continue
        level, detail = _PAPER[state.paper]
        if state.cover_open:
            level, detail = Level.FAILED, f"{detail}; 纸仓盖打开 / cover open"
        elif state.online is False:
            level, detail = Level.FAILED, f"{detail}; 打印机离线 / printer offline"
        findings.append(Finding("printer", kiosk.id, level, f"{detail} ({state.port})"))
    return findings
