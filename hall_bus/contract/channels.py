"""The channel registry: every topic of the hall bus, with its payload, retention and direction.

A channel binds a topic pattern (below the hall root `hall/<hall_id>`) to the model of what
travels on it, whether the broker keeps the last message (retained state) or not (events,
commands), who publishes and who reads. Daemons publish and subscribe through channels
(`BusClient.publish_to`, `subscribe_to`), so a state cannot go out unretained or an event with
the wrong model; `docs/bus.md` and `hall bus schema` are generated from this table; the topic
strings themselves are built and parsed by hall_bus/topics.py alone.

Pattern levels in braces are names filled in per use (`{line}` → `line1`); a filter leaves the
ones not given as MQTT's single-level wildcard `+`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from hall_bus import topics
from hall_bus.contract.base import Message, Request, Response
from hall_bus.contract.bridge import BridgeEvent, BridgeState, DownlinkState
from hall_bus.contract.camera import CameraEvent, CameraState
from hall_bus.contract.kiosk import KioskEvent, KioskPrinterState
from hall_bus.contract.line import LineDeviceEvent, LineDeviceState, LineState
from hall_bus.contract.notice import HallNotice
from hall_bus.contract.queue import QueueEvent, QueueSummaryState
from hall_bus.contract.voice import VoiceState

P = TypeVar("P")


class Retention(StrEnum):
    """The architecture's contract table: state is retained, events are not, commands never."""

    RETAINED = "yes"
    NOT_RETAINED = "no"
    NEVER = "never"


class Area(StrEnum):
    """Where a channel is documented (docs/bus.md's topic sections)."""

    LAYOUT = "Layout of every node"
    QUEUE = "Queue engine"
    CAMERA = "Camera supervision"
    VOICE = "Voice announcer"
    KIOSK = "Kiosks"
    BRIDGE = "Bridge to the central backend"
    LINE = "RS-485 lines (LED strips, hall screen, callers, pads)"
    CONSOLE = "Manager console"


@dataclass(frozen=True)
class Channel(Generic[P]):
    area: Area
    levels: tuple[str, ...]  # below `hall/<hall_id>`; `{name}` levels are filled in per use
    payload: type[P]
    retention: Retention
    direction: str  # publisher → readers
    meaning: str

    @property
    def names(self) -> tuple[str, ...]:
        """The `{name}` levels, in order."""
        return tuple(level[1:-1] for level in self.levels if level.startswith("{"))

    @property
    def retained(self) -> bool:
        return self.retention is Retention.RETAINED

    def topic(self, hall_id: str, **names: str) -> str:
        """The topic of one use: every `{name}` level given."""
        missing = set(self.names) - set(names)
        if missing:
            raise topics.TopicError(f"{self.pattern} needs {', '.join(sorted(missing))}")
        return topics.build(hall_id, self._levels(names, wildcard=None))

    def filter(self, hall_id: str, **names: str) -> str:
        """A subscription filter: the `{name}` levels not given match any name."""
        return topics.build(hall_id, self._levels(names, wildcard=topics.ANY_LEVEL))

    def match(self, hall_id: str, topic: str) -> dict[str, str] | None:
        """The `{name}` levels of `topic` if it is this channel's, else None."""
        return topics.match(hall_id, self.levels, topic)

    @property
    def pattern(self) -> str:
        """The topic as documented: `hall/<hall_id>/<line>/<device>/state`."""
        shown = (f"<{level[1:-1]}>" if level.startswith("{") else level for level in self.levels)
        return "/".join((topics.ROOT_PREFIX, "<hall_id>", *shown))

    def _levels(self, names: dict[str, str], wildcard: str | None) -> list[str]:
        unknown = set(names) - set(self.names)
        if unknown:
            raise topics.TopicError(f"{self.pattern} has no level {', '.join(sorted(unknown))}")
        levels = []
        for level in self.levels:
            if not level.startswith("{"):
                levels.append(level)
                continue
            name = level[1:-1]
            if name in names:
                levels.append(topics.check_name(names[name], name))
            elif wildcard is not None:
                levels.append(wildcard)
        return levels


def _status(area: Area, levels: tuple[str, ...], direction: str, meaning: str) -> Channel[str]:
    """A node's or device's availability: plain text `online` / `offline` (`str`), not JSON."""
    return Channel(area, (*levels, topics.STATUS), str, Retention.RETAINED, direction, meaning)


# --- the layout every node follows -------------------------------------------------------------

NODE_STATUS = _status(Area.LAYOUT, ("{node}",), "node → all",
                      "`online` / `offline`; the broker's last will says `offline`")
DEVICE_STATUS = _status(Area.LAYOUT, ("{node}", "{device}"), "node → all",
                        "the device's own availability from its driver's watchdog")
DEVICE_STATE = Channel(Area.LAYOUT, ("{node}", "{device}", topics.STATE), Message,
                       Retention.RETAINED, "node → all",
                       "full snapshot, republished on every reconnect")
DEVICE_EVENT = Channel(Area.LAYOUT, ("{node}", "{device}", topics.EVENT), Message,
                       Retention.NOT_RETAINED, "node → all",
                       "things that happened: key pressed, ticket printed, rating given")
DEVICE_SET = Channel(Area.LAYOUT, ("{node}", "{device}", topics.SET), Message, Retention.NEVER,
                     "any → node", "desired state (display text, brightness); idempotent")
DEVICE_REQUEST = Channel(Area.LAYOUT, ("{node}", "{device}", topics.REQUEST, "{action}"),
                         Request, Retention.NEVER, "client → node",
                         "a command with an `id` and a `deadline`")
DEVICE_RESPONSE = Channel(Area.LAYOUT, ("{node}", "{device}", topics.RESPONSE, "{action}"),
                          Response, Retention.NEVER, "node → client",
                          "the answer, `id` equal to the request's")

# --- the queue engine (node `queue`) -------------------------------------------------------------

QUEUE = topics.QUEUE_NODE
QUEUE_STATUS = _status(Area.QUEUE, (QUEUE,), "engine → all",
                       "the engine's availability; last will `offline`")
QUEUE_STATE = Channel(Area.QUEUE, (QUEUE, topics.STATE), QueueSummaryState, Retention.RETAINED,
                      "engine → all", "queue summary every screen and daemon rebuilds from")
QUEUE_EVENT = Channel(Area.QUEUE, (QUEUE, topics.EVENT), QueueEvent, Retention.NOT_RETAINED,
                      "engine → all", "tickets, calls, ratings, supervision alerts")
# The managers' notice lies in the engine's subtree: only the engine, which logs who posted it,
# writes it (daemons/queue/notices.py).
HALL_NOTICE = Channel(Area.QUEUE, (QUEUE, "notice", topics.STATE), HallNotice,
                      Retention.RETAINED, "engine → hall screens, voice",
                      "a duty manager's notice (`post_notice`): shown on the hall screens until "
                      "`until`, said once")
QUEUE_REQUEST = Channel(Area.QUEUE, (QUEUE, topics.REQUEST, "{action}"), Request,
                        Retention.NEVER, "client → engine",
                        "one model per action, see Queue actions")
QUEUE_RESPONSE = Channel(Area.QUEUE, (QUEUE, topics.RESPONSE, "{action}"), Response,
                         Retention.NEVER, "engine → client", "`data` is the action's result model")

# --- camera supervision (node `camera`, one device per camera) -----------------------------------

CAMERA = topics.CAMERA_NODE
CAMERA_STATUS = _status(Area.CAMERA, (CAMERA, "{camera}"), "camera → all",
                        "`online` while frames arrive, `offline` when the stream stalls or the "
                        "daemon stops (the process itself: "
                        "`hall/<hall_id>/camera-<camera>/status`)")
CAMERA_STATE = Channel(Area.CAMERA, (CAMERA, "{camera}", topics.STATE), CameraState,
                       Retention.RETAINED, "camera → all",
                       "camera health, every seat's presence, the waiting-area count")
CAMERA_EVENT = Channel(Area.CAMERA, (CAMERA, "{camera}", topics.EVENT), CameraEvent,
                       Retention.NOT_RETAINED, "camera → all",
                       "presence changes, absences, crowding levels, camera faults; never video")

# --- the voice announcer (node `voice`) ----------------------------------------------------------

VOICE = "voice"
VOICE_STATUS = _status(Area.VOICE, (VOICE,), "voice → all",
                       "the announcer's availability; last will `offline`")
VOICE_STATE = Channel(Area.VOICE, (VOICE, topics.STATE), VoiceState, Retention.RETAINED,
                      "voice → all",
                      "per audio zone: backlog, load policy and why, last announcement, output "
                      "health")

# --- kiosks (node `<kiosk>`) ---------------------------------------------------------------------

KIOSK_STATUS = _status(Area.KIOSK, ("{kiosk}",), "kiosk → all",
                       "the kiosk's availability; last will `offline`")
KIOSK_PRINTER_STATE = Channel(Area.KIOSK, ("{kiosk}", "printer", topics.STATE), KioskPrinterState,
                              Retention.RETAINED, "kiosk → all",
                              "its ticket printer: ready, paper, cover, as the printer answered "
                              "(DLE EOT)")
KIOSK_EVENT = Channel(Area.KIOSK, ("{kiosk}", topics.EVENT), KioskEvent, Retention.NOT_RETAINED,
                      "kiosk → all",
                      "tickets printed or not, notices printed, scans refused; masked IDs only")

# --- the bridge to the central backend (node `bridge`) ------------------------------------------

BRIDGE = "bridge"
BRIDGE_STATUS = _status(Area.BRIDGE, (BRIDGE,), "bridge → all",
                        "the bridge's availability; last will `offline`")
BRIDGE_STATE = Channel(Area.BRIDGE, (BRIDGE, topics.STATE), BridgeState, Retention.RETAINED,
                       "bridge → all",
                       "outbox backlog, oldest undelivered age, last success, overdue ratings")
BRIDGE_EVENT = Channel(Area.BRIDGE, (BRIDGE, topics.EVENT), BridgeEvent, Retention.NOT_RETAINED,
                       "bridge → all",
                       "a downlink document accepted, or rejected with the version kept")
DOWNLINK_DOCUMENT = Channel(Area.BRIDGE, (BRIDGE, "{kind}", topics.STATE), DownlinkState,
                            Retention.RETAINED, "bridge → all",
                            "last accepted catalogue, appointments, roster, notices or follow_ups")

# --- RS-485 lines (node `<line>`, one device per strip, screen, caller, pad) ----------------------
# Pads and screens that speak MQTT themselves (drivers/network/) use the device channels with
# their own id as the node.

LINE_STATUS = _status(Area.LINE, ("{line}",), "line → all",
                      "the line daemon's availability; last will `offline`")
LINE_STATE = Channel(Area.LINE, ("{line}", topics.STATE), LineState, Retention.RETAINED,
                     "line → all", "port open, devices answering, last poll cycle")
LINE_DEVICE_STATUS = _status(Area.LINE, ("{line}", "{device}"), "line → all",
                             "a strip, hall screen, caller or pad: answering polls (or port open)")
LINE_DEVICE_STATE = Channel(Area.LINE, ("{line}", "{device}", topics.STATE), LineDeviceState,
                            Retention.RETAINED, "line → all",
                            "what it shows, what it could not show, polls and misses")
LINE_DEVICE_EVENT = Channel(Area.LINE, ("{line}", "{device}", topics.EVENT), LineDeviceEvent,
                            Retention.NOT_RETAINED, "line → all",
                            "key presses, ratings given or left unrated, display problems, "
                            "offline/online")

# --- the manager console (node `console`) ---------------------------------------------------------

CONSOLE_STATUS = _status(Area.CONSOLE, ("console",), "console → all",
                         "the console's availability; last will `offline`")



def device_event_filters(
    hall_id: str, line_ids: Iterable[str], kiosk_ids: Iterable[str]
) -> list[str]:
    """The event filters of a hall's devices, which those who watch them for faults read (the
    engine's alerts, the bridge's supervision records; the broker grants exactly these): every
    camera, every line's devices, every kiosk."""
    return [CAMERA_EVENT.filter(hall_id),
            *(LINE_DEVICE_EVENT.filter(hall_id, line=line_id) for line_id in line_ids),
            *(KIOSK_EVENT.filter(hall_id, kiosk=kiosk_id) for kiosk_id in kiosk_ids)]


CHANNELS: tuple[Channel[Any], ...] = (
    NODE_STATUS, DEVICE_STATUS, DEVICE_STATE, DEVICE_EVENT, DEVICE_SET, DEVICE_REQUEST,
    DEVICE_RESPONSE,
    QUEUE_STATUS, QUEUE_STATE, QUEUE_EVENT, HALL_NOTICE, QUEUE_REQUEST, QUEUE_RESPONSE,
    CAMERA_STATUS, CAMERA_STATE, CAMERA_EVENT,
    VOICE_STATUS, VOICE_STATE,
    KIOSK_STATUS, KIOSK_PRINTER_STATE, KIOSK_EVENT,
    BRIDGE_STATUS, BRIDGE_STATE, BRIDGE_EVENT, DOWNLINK_DOCUMENT,
    LINE_STATUS, LINE_STATE, LINE_DEVICE_STATUS, LINE_DEVICE_STATE, LINE_DEVICE_EVENT,
    CONSOLE_STATUS,
)
