"""Who may do what on a hall's bus: one broker account per daemon and per device, from the site.

Every account is named after the node it logs in as (the camera daemons: `camera-<name>`), and
its grants are built only from hall_bus/topics.py, the one place that builds topics, so the ACL
cannot drift from what the daemons publish. An account may always read and write its own node's
subtree (its status, state, events and the answers addressed to it); beyond that it gets exactly
what its daemon reads, and it may send the queue engine only the actions its daemon sends. A pad
may therefore rate but never call or take a ticket, and a line daemon cannot speak for another
line. `hall config mosquitto` turns these accounts into Mosquitto's password file and ACL;
docs/deployment-security.md shows the table, checked against this module by the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.contract import channels
from hall_bus.contract.bridge import DownlinkKind
from hall_bus.contract.line import KEYPAD_ACTIONS, PAD_ACTIONS

# What each kind of daemon asks the queue engine (hall_bus/contract/queue.py QUEUE_ACTIONS).
LINE_ACTIONS = (*KEYPAD_ACTIONS, *PAD_ACTIONS)
KIOSK_ACTIONS = ("take_ticket", "check_in")
BRIDGE_ACTIONS = ("load_appointments", "apply_catalogue", "apply_roster", "apply_follow_ups")

# Accounts that always exist, whatever the site lists.
QUEUE, VOICE, BRIDGE, CONSOLE, METRICS = "queue", "voice", "bridge", "console", "metrics"
CAMERA_PREFIX = "camera-"
SYS_TOPICS = "$SYS/#"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"


class Role(StrEnum):
    QUEUE = "queue engine"
    LINE = "line daemon"
    KIOSK = "kiosk"
    VOICE = "voice announcer"
    CAMERA = "camera supervisor"
    BRIDGE = "bridge"
    CONSOLE = "manager console and `hall bus request`"
    METRICS = "metrics exporter"
    NETWORK_PAD = "network pad"
    NETWORK_SCREEN = "network screen"
    DEVELOPMENT = "shared development account (no broker.credentials_dir): the whole hall"


@dataclass(frozen=True)
class Grant:
    access: Access
    topic: str  # an MQTT topic filter


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    grants: tuple[Grant, ...]

    def topics(self, access: Access) -> list[str]:
        """Filters granted with exactly `access`."""
        return [grant.topic for grant in self.grants if grant.access is access]


def camera_account(camera_name: str) -> str:
    """The account (and bus node) of one camera's supervision daemon."""
    return f"{CAMERA_PREFIX}{camera_name}"


def _own(hall_id: str, node: str) -> list[Grant]:
    return [Grant(Access.READWRITE, topics.Endpoint(hall_id, node).subtree)]


def _reads(*filters: str) -> list[Grant]:
    return [Grant(Access.READ, topic) for topic in filters]


def _queue_client(hall_id: str, actions: Iterable[str]) -> list[Grant]:
    """What a daemon that sends the engine requests reads, and the requests it may send."""
    queue = topics.queue_endpoint(hall_id)
    return [*_reads(queue.state, queue.event, queue.any_response),
            *(Grant(Access.WRITE, queue.request(action)) for action in actions)]


def _account(hall_id: str, name: str, role: Role, *extra: Grant) -> Account:
    return Account(name, role, (*_own(hall_id, name), *extra))


def site_accounts(site: SiteConfig) -> list[Account]:
    """Every account of the hall, daemons first, in a stable order."""
    h = site.hall_id
    queue = topics.queue_endpoint(h)
    catalogue = topics.Endpoint(h, BRIDGE, DownlinkKind.CATALOGUE.value).state
    # The managers' notice lies in the engine's subtree: only the engine, which logs who posted it,
    # writes it (daemons/queue/notices.py); hall screens (line daemons) and voice read it.
    notice = topics.notice_endpoint(h).state
    device_events = channels.device_event_filters(
        h, [line.id for line in site.lines], [kiosk.id for kiosk in site.kiosks])
    accounts = [
        # The engine raises alerts from cameras, line devices and kiosks (queue/device_alerts.py).
        _account(h, QUEUE, Role.QUEUE, *_reads(*device_events)),
        _account(h, VOICE, Role.VOICE, *_reads(queue.event, queue.state, notice)),
        _account(h, BRIDGE, Role.BRIDGE, *_queue_client(h, BRIDGE_ACTIONS),
                 *_reads(*device_events)),
        _account(h, CONSOLE, Role.CONSOLE, *_reads(topics.hall_subtree(h), SYS_TOPICS),
                 Grant(Access.WRITE, queue.any_request),
                 Grant(Access.WRITE, topics.any_device_set(h))),
        _account(h, METRICS, Role.METRICS, *_reads(topics.hall_subtree(h))),
    ]
    accounts += [_account(h, line.id, Role.LINE, *_queue_client(h, LINE_ACTIONS),
                          *_reads(notice))
                 for line in site.lines]
    accounts += [_account(h, kiosk.id, Role.KIOSK, *_queue_client(h, KIOSK_ACTIONS),
                          *_reads(catalogue))
                 for kiosk in site.kiosks]
    accounts += [_account(h, camera_account(camera.name), Role.CAMERA,
                          Grant(Access.READWRITE, topics.camera_endpoint(h, camera.name).subtree),
                          *_reads(queue.state))
                 for camera in site.cameras]
    for device in site.network_devices:
        if device.kind == "pad":
            accounts.append(_account(h, device.id, Role.NETWORK_PAD,
                                     *_queue_client(h, PAD_ACTIONS)))
        else:
            accounts.append(_account(h, device.id, Role.NETWORK_SCREEN,
                                     *_reads(queue.event, queue.state)))
    _check_unique(accounts)
    return accounts


def _check_unique(accounts: list[Account]) -> None:
    seen: dict[str, Role] = {}
    for account in accounts:
        if account.name in seen:
            raise ValueError(
                f"broker account {account.name!r} would be both a {seen[account.name]} and a "
                f"{account.role}: node names must differ"
            )
        seen[account.name] = account.role


def render_acl(accounts: list[Account]) -> str:
    """Mosquitto ACL text: one `user` block per account, nothing granted to anyone else."""
    blocks = []
    for account in accounts:
        lines = [f"# {account.role}", f"user {account.name}"]
        lines += [f"topic {grant.access} {grant.topic}" for grant in account.grants]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def render_table(accounts: list[Account], root: str) -> str:
    """The account table of docs/deployment-security.md (Markdown), with `root` as `<root>`."""

    def cell(filters: list[str]) -> str:
        return "<br>".join(f"`{f.replace(root, '<root>')}`" for f in filters) or "—"

    rows = ["| 账号 / account | 角色 / role | 读写 / read+write | 只读 / read | 只写 / write |",
            "|---|---|---|---|---|"]
    for account in accounts:
        grants = [cell(account.topics(access))
                  for access in (Access.READWRITE, Access.READ, Access.WRITE)]
        rows.append(f"| `{account.name}` | {account.role} | {' | '.join(grants)} |")
    return "\n".join(rows) + "\n"
