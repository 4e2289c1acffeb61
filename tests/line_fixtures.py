"""A line of simulated devices for window w1 (and vendor strips for w2, w3) on a pty."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivers.line.simulator import SimDisplay, SimKeypad, SimulatedLine
from firmware_config.line import LineConfig, LineDeviceConfig, PadPolicy


@dataclass
class SimHall:
    line: SimulatedLine
    strip: SimDisplay
    screen: SimDisplay
    caller: SimKeypad
    pad: SimKeypad
    onbon: SimDisplay
    aa: SimDisplay


def make_line(link: Path, baud: int = 9600) -> tuple[LineConfig, SimHall]:
    config = LineConfig(
        id="line1",
        port=str(link),
        baud=baud,
        offline_after=2,
        offline_poll_every=3,
        notice="请保管好随身物品",
        pad=PadPolicy(reasons=["等候时间长", "服务态度差"], timeout_s=2, min_interval_s=0.05),
        devices=[
            LineDeviceConfig(id="w1-strip", profile="strip-hl1-32x1", address=1, window="w1"),
            LineDeviceConfig(id="w1-caller", profile="caller-hl1", address=2, window="w1"),
            LineDeviceConfig(id="w1-pad", profile="pad-hl1", address=3, window="w1"),
            LineDeviceConfig(id="hall-screen", profile="hall-screen-hl1-64x6", address=10),
            LineDeviceConfig(id="w2-strip", profile="strip-onbon-bx5", address=20, window="w2"),
            LineDeviceConfig(id="w3-strip", profile="strip-aa-32x1", address=21, window="w3"),
        ],
    )
    sim = SimHall(
        line=SimulatedLine(link, [], baud),
        strip=SimDisplay(1, columns=32, rows=1),
        screen=SimDisplay(10, columns=64, rows=6),
        caller=SimKeypad(2),
        pad=SimKeypad(3),
        onbon=SimDisplay(20),
        aa=SimDisplay(21),
    )
    for device in (sim.strip, sim.screen, sim.caller, sim.pad):
        sim.line.devices[device.address] = device
    sim.line.add_vendor_display(sim.onbon)
    sim.line.add_vendor_display(sim.aa)
    return config, sim


# Generous: a healthy run waits milliseconds, a busy two-core machine can stall a daemon for
# seconds, and only a real fault should fail a test.
WAIT_S = 15.0


def wait_until(predicate: Callable[[], object], timeout: float = WAIT_S, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"not reached in {timeout} s: {what}")
