"""The bridge's outbox on disk, and the records made from bus events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge_fixtures import rating_event, ticket_event

from daemons.bridge.records import mask_id, mask_text, record_for
from daemons.bridge.store import BridgeStore
from hall_bus.contract.bridge import DownlinkKind, RecordKind
from hall_bus.contract.queue import (
    QueueEvent,
    QueueEventType,
    RatingLevel,
    SupervisionAlert,
    SupervisionKind,
)

T0 = 1_767_600_000.0
WHEN = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def add(store: BridgeStore, event_id: str, due: datetime | None = None) -> bool:
    return store.add(event_id, RecordKind.TICKET_EVENT, "ticket_issued", WHEN, {"id": event_id},
                     due_at=due, now=T0)


def test_outbox_keeps_order_ignores_redeliveries_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "bridge.sqlite3"
    store = BridgeStore(path)
    assert [add(store, e) for e in ("a", "b", "a", "c")] == [True, True, False, True]
    assert [r.event_id for r in store.pending(10)] == ["a", "b", "c"]
    first = store.pending(1)[0]
    store.mark_delivered([first.seq], now=T0 + 5)
    store.close()

    again = BridgeStore(path)
    pending = again.pending(10)
    assert [r.event_id for r in pending] == ["b", "c"]
    assert first.seq < pending[0].seq < pending[1].seq  # gaps allowed, order kept
    assert again.last_success_at() == T0 + 5
    assert add(again, "a") is False  # delivered and still remembered: not sent twice
    figures = again.figures(now=T0 + 60)
    assert (figures.backlog, figures.oldest_stored_at, figures.delivered_total) == (2, T0, 1)


def test_overdue_ratings_are_counted_and_flagged(tmp_path: Path) -> None:
    store = BridgeStore(tmp_path / "bridge.sqlite3")
    add(store, "late", due=datetime.fromtimestamp(T0 + 10, UTC))
    add(store, "in-time", due=datetime.fromtimestamp(T0 + 1000, UTC))
    assert store.figures(now=T0 + 100).overdue_ratings == 1
    late, in_time = store.pending(2)
    assert late.to_uplink(now=T0 + 100).overdue is True
    assert in_time.to_uplink(now=T0 + 100).overdue is False


def test_pruning_forgets_only_old_delivered_records(tmp_path: Path) -> None:
    store = BridgeStore(tmp_path / "bridge.sqlite3")
    for event_id in ("old", "recent", "pending"):
        add(store, event_id)
    old, recent, _ = store.pending(3)
    store.mark_delivered([old.seq], now=T0)
    store.mark_delivered([recent.seq], now=T0 + 86400 * 6)
    assert store.prune_delivered(86400 * 7, now=T0 + 86400 * 7 + 1) == 1
    assert [r.event_id for r in store.pending(5)] == ["pending"]
    assert store.figures().delivered_total == 2


def test_downlink_documents_are_kept_and_rejections_remembered(tmp_path: Path) -> None:
    path = tmp_path / "bridge.sqlite3"
    store = BridgeStore(path)
    store.accept(DownlinkKind.ROSTER, 3, {"staff": []})
    store.reject(DownlinkKind.ROSTER, 4, "bad")
    store.close()
    again = BridgeStore(path)
    kept = again.accepted(DownlinkKind.ROSTER)
    assert kept is not None and (kept.version, kept.body) == (3, {"staff": []})
    assert again.rejected(DownlinkKind.ROSTER, 4) and not again.rejected(DownlinkKind.ROSTER, 3)
    assert again.accepted(DownlinkKind.CATALOGUE) is None


def test_masking() -> None:
    assert mask_id("330102199001011234") == "3301**********1234"
    assert mask_id("3301**********1234") == "3301**********1234"
    assert mask_id("1234567") == "*******"
    assert mask_text("电话13812345678，身份证330102199001011234") == (
        "电话1381***5678，身份证3301**********1234")
    assert mask_text("等了 45 分钟") == "等了 45 分钟"


def test_records_by_kind() -> None:
    assert record_for(ticket_event(1), 24).kind is RecordKind.TICKET_EVENT
    login = QueueEvent(type=QueueEventType.STAFF_LOGIN, business_day="2026-01-05", detail="s001")
    assert record_for(login, 24).kind is RecordKind.WINDOW_EVENT
    alert = QueueEvent(type=QueueEventType.SUPERVISION_ALERT, business_day="2026-01-05",
                       alert=SupervisionAlert(kind=SupervisionKind.LONG_WAIT, subject="t1",
                                              value_s=1900, threshold_s=1800, message="等待过长"))
    record = record_for(alert, 24)
    assert record.kind is RecordKind.SUPERVISION and record.body["alert"]["value_s"] == 1900
    rating = record_for(rating_event(3, RatingLevel.BASICALLY_SATISFIED), 6)
    assert rating.kind is RecordKind.RATING and rating.body["score"] == 3
    assert rating.due_at is not None
    body_due, rated = (datetime.fromisoformat(rating.body[k]) for k in ("due_at", "rated_at"))
    assert body_due - rated == timedelta(hours=6)
