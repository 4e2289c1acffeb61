"""The queue engine's `staff_absent` alert from camera absence reports (store level)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from queue_fixtures import START, FakeClock, make_site

from daemons.queue.store import QueueStore
from hall_bus.contract import (
    QUEUE_ACTIONS,
    QueueEvent,
    QueueEventType,
    ResponseStatus,
    SupervisionKind,
    WindowMode,
)


def _store(path: Path, clock: FakeClock) -> QueueStore:
    return QueueStore(path, make_site(), clock)


def _do(store: QueueStore, action: str, **fields: str) -> None:
    outcome = store.execute(action, QUEUE_ACTIONS[action].request(**fields))
    assert outcome.response.status is ResponseStatus.OK, outcome.response.error


def _alerts(events: list[QueueEvent]) -> list[QueueEvent]:
    # The first transaction of a store also opens the business day; only alerts matter here.
    return [e for e in events if e.type is QueueEventType.SUPERVISION_ALERT]


def test_absence_raises_one_staff_absent_alert_per_absence(tmp_path: Path) -> None:
    clock = FakeClock()
    store = _store(tmp_path / "q.sqlite3", clock)
    _do(store, "login", window_id="w1", staff_id="s001")
    away_since = START - timedelta(minutes=6)
    events = store.record_staff_absence("w1", away_since, 360, 300)
    assert [e.type for e in events] == [QueueEventType.SUPERVISION_ALERT]
    alert = events[0].alert
    assert alert is not None
    assert alert.kind is SupervisionKind.STAFF_ABSENT
    assert (alert.subject, alert.window_id, alert.staff_id) == ("w1", "w1", "s001")
    assert (alert.value_s, alert.threshold_s) == (360, 300)
    assert alert.message.startswith("1号窗口工作人员离岗6分钟")
    assert events[0].window is not None and events[0].window.mode is WindowMode.IDLE
    assert [seq for seq, e in store.pending_events() if e.alert is not None] != []
    # The same absence reported again (QoS 1 redelivery, camera restart): nothing new, even
    # after the engine restarts.
    assert _alerts(store.record_staff_absence("w1", away_since, 420, 300)) == []
    store.close()
    store = _store(tmp_path / "q.sqlite3", clock)
    assert _alerts(store.record_staff_absence("w1", away_since, 480, 300)) == []
    # A later absence is a new occurrence.
    clock.advance(minutes=30)
    assert len(store.record_staff_absence("w1", clock.now - timedelta(minutes=5), 300, 300)) == 1
    store.close()


def test_absence_at_a_closed_or_paused_window_raises_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    store = _store(tmp_path / "q.sqlite3", clock)
    assert _alerts(store.record_staff_absence("w2", START, 400, 300)) == []  # nobody logged in
    _do(store, "login", window_id="w2", staff_id="s002")
    _do(store, "pause", window_id="w2")
    assert _alerts(store.record_staff_absence("w2", START, 400, 300)) == []
    assert _alerts(store.record_staff_absence("no-such-window", START, 400, 300)) == []
    _do(store, "resume", window_id="w2")
    assert len(_alerts(store.record_staff_absence("w2", START, 400, 300))) == 1
    store.close()
