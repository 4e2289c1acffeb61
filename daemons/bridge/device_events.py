"""Device events the backend's supervision (电子监察) wants: faults and outages of hall devices.

The bridge listens to the cameras', line devices' and kiosks' event topics and keeps only the events
that say a device failed or came back; presses, ratings and printed tickets already reach the
backend as queue events, and a camera's seat observations as the engine's `staff_absent` alerts.
Each kept event becomes a `DeviceRecord` (no snapshot, no citizen data) with the bus event's id as
its idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pydantic import ValidationError

from daemons.bridge.records import OutboundRecord, mask_text
from firmware_config.site import SiteConfig
from hall_bus.contract import channels
from hall_bus.contract.base import Message
from hall_bus.contract.bridge import DeviceRecord, DeviceSource, RecordKind
from hall_bus.contract.camera import CameraEvent, CameraEventType
from hall_bus.contract.kiosk import KioskEvent, KioskEventType
from hall_bus.contract.line import LineDeviceEvent, LineDeviceEventType

UPLOADED_TYPES: frozenset[str] = frozenset({
    CameraEventType.CAMERA_FAULT, CameraEventType.CAMERA_RECOVERED,
    LineDeviceEventType.WENT_OFFLINE, LineDeviceEventType.CAME_ONLINE,
    LineDeviceEventType.DISPLAY_PROBLEM,
    KioskEventType.PRINT_FAILED,
})


@dataclass(frozen=True)
class DeviceTopic:
    topic_filter: str
    convert: Callable[[str, bytes], OutboundRecord | None]


def _record(event: Message, event_type: str, body: DeviceRecord) -> OutboundRecord | None:
    if event_type not in UPLOADED_TYPES:
        return None
    return OutboundRecord(event.id, RecordKind.DEVICE_EVENT, event_type, event.ts,
                          body.model_dump(mode="json", exclude_none=True))


def _masked(text: str | None) -> str | None:
    return mask_text(text) if text else None


def _camera(topic: str, payload: bytes) -> OutboundRecord | None:
    event = CameraEvent.model_validate_json(payload)
    return _record(event, event.type.value, DeviceRecord(
        source=DeviceSource.CAMERA, node="camera", device=event.camera, window_id=event.window_id,
        type=event.type.value, health=event.health.value if event.health else None,
        detail=_masked(event.message),
    ))


def _line_device(node: str, topic: str, payload: bytes) -> OutboundRecord | None:
    event = LineDeviceEvent.model_validate_json(payload)
    return _record(event, event.type.value, DeviceRecord(
        source=DeviceSource.LINE_DEVICE, node=node, device=event.device_id,
        window_id=event.window_id, type=event.type.value, detail=_masked(event.detail),
    ))


def _kiosk(node: str, topic: str, payload: bytes) -> OutboundRecord | None:
    event = KioskEvent.model_validate_json(payload)
    return _record(event, event.type.value, DeviceRecord(
        source=DeviceSource.KIOSK, node=node, type=event.type.value, detail=_masked(event.detail),
    ))


def device_topics(site: SiteConfig) -> list[DeviceTopic]:
    """The event topics of this hall's configured devices, each with its converter (which knows
    the line or kiosk its filter names, so nothing is read back off the topic)."""
    h = site.hall_id
    found = [DeviceTopic(channels.CAMERA_EVENT.filter(h), _camera)]
    found += [DeviceTopic(channels.LINE_DEVICE_EVENT.filter(h, line=line.id),
                          partial(_line_device, line.id)) for line in site.lines]
    found += [DeviceTopic(channels.KIOSK_EVENT.filter(h, kiosk=kiosk.id),
                          partial(_kiosk, kiosk.id)) for kiosk in site.kiosks]
    return found


def convert(device_topic: DeviceTopic, topic: str, payload: bytes) -> OutboundRecord | None:
    """The record for a device event, None if the backend does not want it; ValueError if bad."""
    try:
        return device_topic.convert(topic, payload)
    except ValidationError as exc:
        raise ValueError(str(exc.errors()[0]["msg"])) from exc
