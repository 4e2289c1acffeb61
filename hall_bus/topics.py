"""Topic names of the hall bus.

Every topic is `hall/<hall_id>/<node>[/<device>]/<kind>[/<action>]`; names are `[a-z0-9_-]`.
This module is the only place that builds or parses topic strings; which topics exist, and what
travels on each, is the channel registry's (hall_bus/contract/channels.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
ROOT_PREFIX = "hall"

STATUS = "status"
STATE = "state"
EVENT = "event"
SET = "set"
REQUEST = "request"
RESPONSE = "response"

ONLINE = "online"
OFFLINE = "offline"

ANY_LEVEL = "+"  # MQTT's single-level wildcard
QUEUE_NODE = "queue"
CAMERA_NODE = "camera"


class TopicError(ValueError):
    """A topic or a name inside it does not follow the bus naming rules."""


def check_name(name: str, what: str = "name") -> str:
    if not NAME_PATTERN.match(name):
        raise TopicError(f"{what} {name!r} must match [a-z0-9_-]+")
    return name


@dataclass(frozen=True)
class Endpoint:
    """A node, or a device on a node, somewhere on one hall's bus."""

    hall_id: str
    node: str
    device: str | None = None

    def __post_init__(self) -> None:
        check_name(self.hall_id, "hall id")
        check_name(self.node, "node")
        if self.device is not None:
            check_name(self.device, "device")

    @property
    def base(self) -> str:
        parts = [ROOT_PREFIX, self.hall_id, self.node]
        if self.device is not None:
            parts.append(self.device)
        return "/".join(parts)

    @property
    def status(self) -> str:
        return f"{self.base}/{STATUS}"

    @property
    def state(self) -> str:
        return f"{self.base}/{STATE}"

    @property
    def event(self) -> str:
        return f"{self.base}/{EVENT}"

    @property
    def set(self) -> str:
        return f"{self.base}/{SET}"

    def request(self, action: str) -> str:
        return f"{self.base}/{REQUEST}/{check_name(action, 'action')}"

    def response(self, action: str) -> str:
        return f"{self.base}/{RESPONSE}/{check_name(action, 'action')}"

    @property
    def any_request(self) -> str:
        return f"{self.base}/{REQUEST}/+"

    @property
    def any_response(self) -> str:
        return f"{self.base}/{RESPONSE}/+"

    @property
    def subtree(self) -> str:
        """Filter for everything under this node or device (the broker ACL grants by subtree)."""
        return f"{self.base}/#"


def hall_root(hall_id: str) -> str:
    return f"{ROOT_PREFIX}/{check_name(hall_id, 'hall id')}"


def build(hall_id: str, levels: Iterable[str]) -> str:
    """`hall/<hall_id>/<levels…>`; each level a checked name, a fixed word or `+`."""
    return "/".join((hall_root(hall_id), *levels))


def match(hall_id: str, pattern: Iterable[str], topic: str) -> dict[str, str] | None:
    """The `{name}` levels of `topic` under `pattern` (levels below the hall root, as in the
    channel registry), or None when the topic is not of that pattern in this hall."""
    levels = list(pattern)
    parts = topic.split("/")
    if parts[:2] != [ROOT_PREFIX, hall_id] or len(parts) != len(levels) + 2:
        return None
    found: dict[str, str] = {}
    for level, part in zip(levels, parts[2:], strict=True):
        if level.startswith("{"):
            if not NAME_PATTERN.match(part):
                return None
            found[level[1:-1]] = part
        elif level != part:
            return None
    return found


def queue_endpoint(hall_id: str) -> Endpoint:
    """The queue engine: node `queue`, no device below it."""
    return Endpoint(hall_id, QUEUE_NODE)


def camera_endpoint(hall_id: str, camera: str) -> Endpoint:
    """A supervision camera: node `camera`, the camera's name as the device."""
    return Endpoint(hall_id, CAMERA_NODE, camera)


def notice_endpoint(hall_id: str) -> Endpoint:
    """The managers' notice to the hall (hall_bus/contract/notice.py): node `queue`, device
    `notice`, its retained state only. The engine publishes it (daemons/queue/notices.py), so
    it sits in the engine's subtree, where no other account may write."""
    return Endpoint(hall_id, QUEUE_NODE, "notice")


def any_node_status(hall_id: str) -> str:
    """Filter for the availability of every node of a hall."""
    return f"{hall_root(hall_id)}/+/{STATUS}"


def any_device_set(hall_id: str) -> str:
    """Filter for the desired-state topic of every device of a hall."""
    return f"{hall_root(hall_id)}/+/+/{SET}"


def hall_subtree(hall_id: str) -> str:
    """Filter for everything on a hall's bus."""
    return f"{hall_root(hall_id)}/#"


def watch_filters(hall_id: str) -> list[str]:
    """Filters for every status, state and event of a hall, node and device level: what a
    console watching the whole hall needs, without the requests and answers."""
    root = hall_root(hall_id)
    return [f"{root}/{level}{kind}" for kind in (STATUS, STATE, EVENT) for level in ("+/", "+/+/")]


@dataclass(frozen=True)
class TopicParts:
    node: str
    device: str | None
    kind: str


def split_topic(hall_id: str, topic: str) -> TopicParts | None:
    """Node, device and kind of a `status`/`state`/`event` topic of this hall; None otherwise."""
    parts = topic.split("/")
    if parts[:2] != [ROOT_PREFIX, hall_id] or len(parts) not in (4, 5):
        return None
    if parts[-1] not in (STATUS, STATE, EVENT) or not all(NAME_PATTERN.match(p) for p in parts[2:]):
        return None
    return TopicParts(parts[2], parts[3] if len(parts) == 5 else None, parts[-1])


def action_of(topic: str) -> str:
    """The action of a `.../request/<action>` or `.../response/<action>` topic."""
    parts = topic.split("/")
    if len(parts) < 2 or parts[-2] not in (REQUEST, RESPONSE):
        raise TopicError(f"{topic!r} is not a request or response topic")
    return check_name(parts[-1], "action")


def response_topic_for(request_topic: str) -> str:
    parts = request_topic.split("/")
    if len(parts) < 2 or parts[-2] != REQUEST:
        raise TopicError(f"{request_topic!r} is not a request topic")
    parts[-2] = RESPONSE
    return "/".join(parts)
