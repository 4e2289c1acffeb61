"""Device faults and crowding become supervision alerts, so a manager can acknowledge them.

The engine already hears the cameras; it also listens to the line devices' and kiosks' events.
Pure functions here turn one event into at most one alert and its occurrence key (the event's
own send time), so a redelivered event raises nothing new (see `manager_actions.record_alert`).
"""

from __future__ import annotations

from hall_bus.contract import (
    CROWDED_ALERT_LEVEL,
    CameraEvent,
    CameraEventType,
    KioskEvent,
    KioskEventType,
    LineDeviceEvent,
    LineDeviceEventType,
    SupervisionAlert,
    SupervisionKind,
)

Found = tuple[SupervisionAlert, str]


def _fault(subject: str, message: str, window_id: str | None = None) -> SupervisionAlert:
    return SupervisionAlert(kind=SupervisionKind.DEVICE_FAULT, subject=subject,
                            window_id=window_id, value_s=0, threshold_s=0, message=message)


def from_camera(event: CameraEvent) -> Found | None:
    subject = f"camera/{event.camera}"
    if event.type is CameraEventType.CAMERA_FAULT:
        return _fault(subject, event.message), event.ts.isoformat()
    if (event.type is CameraEventType.CROWDING_CHANGED and event.level is not None
            and event.level >= CROWDED_ALERT_LEVEL):
        alert = SupervisionAlert(kind=SupervisionKind.CROWDING, subject=subject,
                                 value_s=event.count or 0, threshold_s=0, message=event.message)
        return alert, event.ts.isoformat()
    return None


def from_line_device(line_id: str, event: LineDeviceEvent) -> Found | None:
    if event.type is not LineDeviceEventType.WENT_OFFLINE:
        return None
    where = f"（{event.window_id}）" if event.window_id else ""
    message = (f"线路{line_id}设备{event.device_id}{where}无应答 / device {event.device_id} on "
               f"{line_id} stopped answering")
    return (_fault(f"{line_id}/{event.device_id}", message, event.window_id),
            event.ts.isoformat())


def from_kiosk(kiosk_id: str, event: KioskEvent) -> Found | None:
    if event.type is not KioskEventType.PRINT_FAILED:
        return None
    message = (f"取号机{kiosk_id}打印失败：{event.detail or ''} / kiosk {kiosk_id} could not "
               f"print {event.number or ''}")
    return _fault(f"{kiosk_id}/printer", message), event.ts.isoformat()
