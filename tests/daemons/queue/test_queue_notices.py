"""The managers' notice kept by the queue engine: stored with who posted and who withdrew it,
refused when it names nobody, runs too long or carries a full ID number, and retained on the bus
by the engine, again after the engine restarts (a real Mosquitto that forgot it meanwhile), with
one that ran out while the engine was down withdrawn."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bus_helpers import Collector
from mosquitto import Mosquitto
from queue_fixtures import FakeClock, make_site
from test_queue_engine import Hall as BusHall
from test_queue_store import Hall, hall

from daemons.queue.service import QueueEngine
from firmware_config.site import BrokerConfig
from hall_bus.client import BusClient
from hall_bus.contract import QueueEventType
from hall_bus.contract.notice import HallNotice
from hall_bus.ids import utc_now
from hall_bus.topics import notice_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["hall"]  # the store fixture of test_queue_store


def _until(minutes: float) -> str:
    return (utc_now() + timedelta(minutes=minutes)).isoformat()


def _notice_rows(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT json_extract(body, '$.text_zh'), posted_by, withdrawn_by,"
            " withdrawn_at IS NOT NULL FROM notices ORDER BY rowid").fetchall()
    finally:
        conn.close()


def _logged_actors(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT action, actor FROM request_log WHERE action LIKE '%notice' ORDER BY created_at"
        ).fetchall()
    finally:
        conn.close()


def test_notice_is_stored_with_who_posted_and_who_withdrew_it(hall: Hall) -> None:
    assert hall.store.retained_notice() is None  # no notice ever: the topic is left alone
    hall.fail("post_notice", "actor_required", text_zh="午间错时服务", until=_until(30))
    hall.fail("post_notice", "notice_over", text_zh="午间错时服务", until=_until(-1),
              actor="duty1")
    hall.fail("post_notice", "notice_too_long", text_zh="午间错时服务", until=_until(721),
              actor="duty1")
    hall.fail("withdraw_notice", "no_notice", actor="duty1")

    first = hall.run("post_notice", text_zh="午间错时服务", text_en="Staggered lunch service",
                     until=_until(30), actor="duty1")
    assert [(e.type, e.actor, e.detail) for e in first.events] == [
        (QueueEventType.NOTICE_POSTED, "duty1", "午间错时服务")]
    assert first.response.data is not None
    record = first.response.data["record"]
    assert record["posted_by"] == "duty1" and record["withdrawn_by"] is None
    retained = hall.store.retained_notice()
    assert retained is not None and retained.id == record["notice"]["id"]
    assert (retained.text_zh, retained.text_en, retained.actor) == (
        "午间错时服务", "Staggered lunch service", "duty1")

    # A second notice replaces the first, and says so in the first one's record.
    second = hall.run("post_notice", text_zh="系统维护，社保业务暂停受理", until=_until(20),
                      actor="duty2")
    assert [(e.type, e.actor, e.detail) for e in second.events] == [
        (QueueEventType.NOTICE_WITHDRAWN, "duty2", "replaced"),
        (QueueEventType.NOTICE_POSTED, "duty2", "系统维护，社保业务暂停受理")]
    assert second.response.data is not None
    hall.fail("withdraw_notice", "not_in_force", notice_id=record["notice"]["id"], actor="duty1")

    hall.reopen()  # what the engine knows after a restart
    in_force = hall.store.retained_notice()
    assert in_force is not None and in_force.id == second.response.data["record"]["notice"]["id"]
    withdrawn = hall.ok("withdraw_notice", notice_id=in_force.id, actor="duty1")["record"]
    assert withdrawn["withdrawn_by"] == "duty1" and withdrawn["withdrawn_at"] is not None
    off = hall.store.retained_notice()
    assert off is not None and off.text_zh == "" and off.actor == "duty1" and not off.speak

    assert _notice_rows(hall.path) == [
        ("午间错时服务", "duty1", "duty2", 1),
        ("系统维护，社保业务暂停受理", "duty2", "duty1", 1),
    ]
    # Every attempt is in the request log with who made it, refused ones too.
    assert _logged_actors(hall.path) == [
        ("post_notice", None), ("post_notice", "duty1"), ("post_notice", "duty1"),
        ("withdraw_notice", "duty1"), ("post_notice", "duty1"), ("post_notice", "duty2"),
        ("withdraw_notice", "duty1"), ("withdraw_notice", "duty1")]


def test_a_notice_that_ran_out_is_withdrawn_by_nobody(hall: Hall) -> None:
    hall.ok("post_notice", text_zh="请注意", until=_until(1), actor="duty1")
    assert hall.store.expire_notice(utc_now()) == []
    [event] = hall.store.expire_notice(utc_now() + timedelta(minutes=2))
    assert (event.type, event.actor, event.detail) == (
        QueueEventType.NOTICE_WITHDRAWN, None, "expired")
    assert _notice_rows(hall.path) == [("请注意", "duty1", None, 1)]
    assert hall.store.expire_notice(utc_now() + timedelta(minutes=3)) == []


def test_full_id_number_in_a_notice_is_refused_over_the_bus(
    broker_config: BrokerConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full_id = "11010519491231002X"
    caplog.set_level("DEBUG")
    engine = QueueEngine(_site(broker_config, tmp_path), tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    client = BusHall(engine.site)
    try:
        payload = {"id": "notice-pi-1", "text_zh": f"请{full_id}到服务台", "until": _until(10),
                   "actor": "duty1"}
        client.bus.publish(client.endpoint.request("post_notice"), json.dumps(payload).encode())
        answer = client.raw_responses.wait_for(lambda r: r.get("id") == "notice-pi-1")
        assert answer["code"] == "invalid_payload" and "text_zh" in answer["error"]
        assert full_id not in json.dumps(answer) and full_id not in caplog.text
    finally:
        client.bus.stop()
        engine.stop()
    assert _notice_rows(tmp_path / "queue.sqlite3") == []


def _site(broker_config: BrokerConfig, tmp_path: Path) -> Any:
    return make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path})


class NoticeWatcher:
    """A fresh subscriber each time: what the broker retains is what it gets first."""

    def __init__(self, site: Any) -> None:
        self.notices: Collector[HallNotice] = Collector()
        self.bus = BusClient(site.hall_id, f"watch-{time.monotonic_ns()}", site.broker,
                             announce=False)
        self.bus.subscribe_model(notice_endpoint(site.hall_id).state, HallNotice,
                                 self.notices.add)
        self.bus.start(wait=10)

    def __enter__(self) -> Collector[HallNotice]:
        return self.notices

    def __exit__(self, *_exc: object) -> None:
        self.bus.stop()


@pytest.fixture
def engine_factory(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[Any]:
    running: list[QueueEngine] = []

    def start() -> QueueEngine:
        engine = QueueEngine(_site(broker_config, tmp_path), tmp_path / "queue.sqlite3",
                             FakeClock())
        engine.start(wait=10)
        running.append(engine)
        return engine

    yield start
    for engine in running:
        engine.stop()


def test_engine_retains_the_notice_again_after_a_restart_and_withdraws_one_that_ran_out(
    engine_factory: Any, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    engine = engine_factory()
    client = BusHall(engine.site)
    try:
        posted = client.ok("post_notice", text_zh="午间错时服务", until=_until(30),
                           actor="duty1")["record"]["notice"]
        with NoticeWatcher(engine.site) as seen:
            assert seen.wait_for(lambda n: True).id == posted["id"]
    finally:
        client.bus.stop()
    engine.stop()
    # The broker loses its retained messages while the engine is down (a replaced broker, a
    # lost persistence file): the engine's store is what brings the notice back.
    mosquitto.restart(forget_state=True)
    with NoticeWatcher(engine.site) as seen:
        time.sleep(0.5)
        assert seen.items == []
    engine = engine_factory()
    with NoticeWatcher(engine.site) as seen:
        again = seen.wait_for(lambda n: True, timeout=10)
    assert (again.id, again.text_zh, again.actor) == (posted["id"], "午间错时服务", "duty1")

    # A notice that runs out while the engine is down is withdrawn when it comes back.
    client = BusHall(engine.site)
    try:
        short = client.ok("post_notice", text_zh="请注意", until=_until(0.05),
                          actor="duty2")["record"]["notice"]
    finally:
        client.bus.stop()
    engine.stop()
    mosquitto.restart(forget_state=True)
    time.sleep(3.5)
    engine = engine_factory()
    with NoticeWatcher(engine.site) as seen:
        gone = seen.wait_for(lambda n: n.text_zh == "", timeout=10)
    assert gone.id != short["id"] and gone.actor is None
    assert _notice_rows(tmp_path / "queue.sqlite3") == [
        ("午间错时服务", "duty1", "duty2", 1), ("请注意", "duty2", None, 1)]


def test_the_published_notice_limit_is_the_one_enforced() -> None:
    # The bus reference is generated from the schema; a limit it states must be the one a
    # requester meets, or a console would let a manager type text the engine then refuses.
    from pydantic import ValidationError

    from hall_bus.contract.base import NOTICE_TEXT_MAX
    from hall_bus.contract.queue import PostNoticeRequest

    request = {"until": _until(30), "actor": "duty", "deadline": _until(1)}
    for model, extra in ((PostNoticeRequest, request), (HallNotice, {})):
        stated = model.model_json_schema()["properties"]["text_zh"]["maxLength"]
        assert stated == NOTICE_TEXT_MAX
        model.model_validate({"text_zh": "请" * stated, **extra})
        with pytest.raises(ValidationError, match=f"at most {stated} characters"):
            model.model_validate({"text_zh": "请" * (stated + 1), **extra})
