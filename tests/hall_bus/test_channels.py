"""The channel registry: topics built and parsed from it, publishing held to its payload and
retention, the bus reference generated from it."""

from __future__ import annotations

import pytest
import repo_paths
from bus_helpers import Collector
from pydantic import ValidationError

from firmware_config.site import BrokerConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract import DayReportRequest, QueueEvent, QueueEventType, QueueSummaryState
from hall_bus.contract.channels import (
    CHANNELS,
    HALL_NOTICE,
    KIOSK_PRINTER_STATE,
    LINE_DEVICE_EVENT,
    LINE_DEVICE_STATUS,
    QUEUE_EVENT,
    QUEUE_REQUEST,
    QUEUE_STATE,
    Channel,
    Retention,
)
from hall_bus.contract.queue_documents import ApplyRosterRequest, RosterEntry
from hall_bus.schema_doc import render_bus_markdown, schema_document

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
HALL = "ch-hall"
DAY = "2026-12-07"
LOGIN = QueueEvent(type=QueueEventType.STAFF_LOGIN, business_day=DAY)


def _names(channel: Channel[object]) -> dict[str, str]:
    return {name: f"{name[:3]}-{index}" for index, name in enumerate(channel.names)}


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.pattern)
def test_every_channel_builds_and_parses_its_own_topics(channel: Channel[object]) -> None:
    names = _names(channel)
    topic = channel.topic(HALL, **names)
    assert topic.startswith(f"hall/{HALL}/")
    assert channel.match(HALL, topic) == names
    assert channel.match("other-hall", topic) is None
    # A filter with nothing named matches every use of the channel, and only as wildcards.
    assert channel.filter(HALL).count(topics.ANY_LEVEL) == len(channel.names)
    # Commands and events are never retained; state and availability always are.
    assert channel.retained == (channel.levels[-1] in (topics.STATE, topics.STATUS))


def test_names_are_checked_and_required() -> None:
    assert LINE_DEVICE_EVENT.topic(HALL, line="line1", device="w1-pad") == \
        "hall/ch-hall/line1/w1-pad/event"
    assert LINE_DEVICE_EVENT.filter(HALL, line="line1") == "hall/ch-hall/line1/+/event"
    with pytest.raises(topics.TopicError, match="needs device"):
        LINE_DEVICE_EVENT.topic(HALL, line="line1")
    with pytest.raises(topics.TopicError, match="must match"):
        KIOSK_PRINTER_STATE.topic(HALL, kiosk="Kiosk 1")
    with pytest.raises(topics.TopicError, match="has no level"):
        QUEUE_STATE.topic(HALL, line="line1")
    assert QUEUE_REQUEST.match(HALL, "hall/ch-hall/queue/request/take_ticket") == {
        "action": "take_ticket"}
    assert LINE_DEVICE_STATUS.match(HALL, "hall/ch-hall/line1/w1-pad/state") is None


def test_the_bus_reference_lists_every_channel() -> None:
    text = render_bus_markdown()
    document = schema_document()
    assert (REPO / "docs" / "bus.md").read_text(encoding="utf-8") == text
    for channel in CHANNELS:
        assert f"`{channel.pattern}`" in text, channel.pattern
    documented = {entry["topic"]: entry for entry in document["topics"]}
    assert documented[HALL_NOTICE.pattern]["retained"] is True
    assert documented[HALL_NOTICE.pattern]["payload"] == "HallNotice"
    assert documented[QUEUE_EVENT.pattern]["retained"] is False
    assert all(channel.retention is not Retention.RETAINED or channel.levels[-1] != "event"
               for channel in CHANNELS)


def test_publishing_through_a_channel_keeps_its_model_and_retention(
    broker_config: BrokerConfig,
) -> None:
    engine = BusClient(HALL, "queue", broker_config)
    engine.start(wait=10)
    try:
        with pytest.raises(TypeError, match="carries QueueSummaryState"):
            engine.publish_to(QUEUE_STATE, LOGIN)
        assert engine.publish_to(QUEUE_STATE, QueueSummaryState(
            hall_id=HALL, business_day=DAY, services=[], windows=[], issued_today=3,
            done_today=1, no_show_today=0, waiting=2), wait=10)
        assert engine.publish_to(QUEUE_EVENT, LOGIN, wait=10)
        # A reader arriving later finds the state (retained) and no old event (not retained).
        late = BusClient(HALL, "late-reader", broker_config, announce=False)
        states: Collector[QueueSummaryState] = Collector()
        events: Collector[QueueEvent] = Collector()
        late.subscribe_to(QUEUE_STATE, states.add)
        late.subscribe_to(QUEUE_EVENT, events.add)
        late.start(wait=10)
        try:
            state = states.wait_for(lambda _state: True)
            assert (state.issued_today, state.waiting) == (3, 2)
            # A new event reaches it; the one sent before it subscribed never does (QoS 1 on
            # one connection keeps order, so the new one would come after an old one).
            assert engine.publish_to(QUEUE_EVENT, QueueEvent(
                type=QueueEventType.STAFF_LOGOUT, business_day=DAY), wait=10)
            events.wait_for(lambda event: event.type is QueueEventType.STAFF_LOGOUT)
            assert [event.type for event in events.items] == [QueueEventType.STAFF_LOGOUT]
        finally:
            late.stop()
    finally:
        engine.stop()


def test_business_days_and_document_versions_are_checked_at_the_door() -> None:
    assert DayReportRequest(business_day="2026-12-07").business_day == "2026-12-07"
    for bad in ("2026-02-30", "7.12.2026", "2026-12-07T00:00"):
        with pytest.raises(ValidationError):
            DayReportRequest(business_day=bad)
    staff = [RosterEntry(staff_id="s001", name="张敏")]
    with pytest.raises(ValidationError):
        ApplyRosterRequest(version=10**30, staff=staff)
    with pytest.raises(ValidationError):
        ApplyRosterRequest(version=2, staff=[])
    assert ApplyRosterRequest(version=2, staff=staff).version == 2
