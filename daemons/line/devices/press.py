"""A polled device whose presses are acknowledged once and executed once (keypads and pads).

A device repeats an unacknowledged press (same seq) on every poll. The press's engine request is
remembered on disk before it is sent (daemons/line/press_memory.py), and its acknowledgement once
answered, so a repeat is answered from memory and a daemon restarted in between sends the same
request id again: the engine answers a repeat from its request log and never executes twice.
"""

from __future__ import annotations

import time
from typing import Any

from daemons.line.devices.base import LineDevice
from daemons.line.devices.effects import (
    Answered,
    AskEngine,
    Effect,
    RememberPress,
    Write,
    WriteJob,
)
from daemons.line.press_memory import PressRecord
from daemons.line.scheduler import Lane
from drivers.line import commands as rc
from drivers.line.frame import Frame, encode
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig


class PressDevice(LineDevice):
    def __init__(self, line: LineConfig, config: LineDeviceConfig,
                 profile: DeviceProfile) -> None:
        super().__init__(line, config, profile)
        self.in_flight: int | None = None
        self.record: PressRecord | None = None  # the last press, restored after a restart

    @property
    def polled(self) -> bool:
        return True

    def on_poll_reply(self, frame: Frame) -> list[Effect]:
        try:
            press = rc.decode_poll_reply(frame)
        except rc.DecodeError:
            return []
        if press is None or press.seq == self.in_flight:
            return []
        record = self.record
        if record is not None and record.repeats(press.seq):
            if record.ack is not None:
                # Our ACK was lost: answer again, never execute again.
                result, beep, text = record.ack
                return [self.ack(press.seq, result, rc.Beep(beep), text)]
            if record.action is not None and record.request_id is not None:
                # Sent before a restart, answer unknown: same request id, answered from the log.
                self.in_flight = press.seq
                return self.ask(press, record.action, record.fields or {}, record.request_id)
        self.in_flight = press.seq
        return self.handle_press(press)

    def handle_press(self, press: rc.Press) -> list[Effect]:
        raise NotImplementedError

    def ask(self, press: rc.Press, action: str, fields: dict[str, Any],
            request_id: str) -> list[Effect]:
        """The press's engine request, remembered first so a restart cannot repeat it."""
        raise NotImplementedError

    def request(self, press: rc.Press, action: str, fields: dict[str, Any], request_id: str,
                attempts: int, answered: Answered) -> list[Effect]:
        self.record = PressRecord(press.seq, time.time(), action, fields, request_id)
        return [RememberPress(self.record),
                AskEngine(action, fields, request_id, attempts, answered)]

    def finish_press(self, seq: int, result: int, text: str) -> list[Effect]:
        beep = rc.Beep.OK if result == 0 else rc.Beep.ERROR
        self.in_flight = None
        self.record = PressRecord(seq, time.time(), ack=(result, int(beep), text))
        return [RememberPress(self.record), self.ack(seq, result, beep, text)]

    def ack(self, seq: int, result: int, beep: rc.Beep, text: str) -> Effect:
        address = self.config.address

        def build(frame_seq: int) -> bytes:
            return encode(rc.ack(address, frame_seq, seq, result, beep, text))

        return Write(WriteJob(self, build, expects_reply=True), Lane.URGENT)
