"""The announcer on the real bus: queue engine call → WAV written, state retained, sink faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from bus_helpers import Collector
from mosquitto import Mosquitto
from queue_fixtures import FakeClock, make_site
from test_queue_engine import Hall
from voice_fixtures import (
    CALL_KEYS,
    RATE,
    dominant_frequency,
    peak_site,
    tone_frequencies,
    write_tone_pack,
)

from daemons.queue.service import QueueEngine
from daemons.voice.audio import read_wav
from daemons.voice.daemon import VoiceDaemon, voice_endpoint
from daemons.voice.pack import MANIFEST, load_pack
from daemons.voice.sinks import AlsaSink, SinkError, WavFileSink
from daemons.voice.tts import EspeakEngine
from firmware_config.site import BrokerConfig, SiteConfig
from firmware_config.voice import SinkConfig, VoiceConfig
from hall_bus.client import BusClient
from hall_bus.contract.queue import (
    PriorityClass,
    QueueEvent,
    QueueEventType,
    TicketState,
    TicketView,
    WindowMode,
    WindowSummary,
)
from hall_bus.contract.voice import LastAnnouncement, VoicePolicy, VoiceState
from hall_bus.ids import utc_now
from hall_bus.topics import queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

UNDER_LOAD = (VoicePolicy.MERGED, VoicePolicy.TERSE, VoicePolicy.COMPRESSED)

def _site(broker_config: BrokerConfig, tmp_path: Path) -> SiteConfig:
    voice = VoiceConfig(sink=SinkConfig(retry_s=0.2))
    return make_site().model_copy(
        update={"broker": broker_config, "data_dir": tmp_path, "voice": voice}
    )


@pytest.fixture
def site(broker_config: BrokerConfig, tmp_path: Path) -> SiteConfig:
    return _site(broker_config, tmp_path)


@pytest.fixture
def hall(site: SiteConfig, tmp_path: Path) -> Iterator[Hall]:
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    client = Hall(site)
    try:
        yield client
    finally:
        client.bus.stop()
        engine.stop()


def _watch_state(site: SiteConfig) -> tuple[BusClient, Collector[VoiceState]]:
    states: Collector[VoiceState] = Collector()
    watcher = BusClient(site.hall_id, "voice-watcher", site.broker)
    watcher.subscribe_model(voice_endpoint(site.hall_id).state, VoiceState, states.add)
    watcher.start(wait=10)
    return watcher, states


def _wait_for_files(folder: Path, count: int, timeout: float = 15.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.wav"))
        if len(files) >= count:
            return files
        time.sleep(0.05)
    raise AssertionError(f"{folder}: fewer than {count} WAV files after {timeout} s")


def test_call_next_is_announced_into_a_wav_and_the_state(site: SiteConfig, hall: Hall,
                                                        tmp_path: Path) -> None:
    daemon = VoiceDaemon(site, data_dir=tmp_path)
    daemon.start(wait=10)
    watcher, states = _watch_state(site)
    try:
        # First start without a pack: the default pack is generated offline into the data dir.
        assert (tmp_path / "voice" / "pack" / MANIFEST).exists()
        hall.ok("login", window_id="w9", staff_id="s001")
        ticket = hall.ok("take_ticket", service_id="household")["ticket"]["number"]
        hall.ok("call_next", window_id="w9")

        files = _wait_for_files(tmp_path / "voice" / "out" / "floor1", 1)
        assert files[0].name == f"000001-{ticket}.wav"
        samples, rate = read_wav(files[0])
        assert rate == site.voice.sample_rate
        # It opens with the chime (E5, 659 Hz), then speech of a plausible length.
        assert abs(dominant_frequency(samples[: int(0.3 * rate)], rate) - 659.25) < 5
        assert 2.5 < samples.size / rate < 12
        assert np.sqrt(np.mean(samples[int(1.0 * rate):] ** 2)) > 0.02

        state = states.wait_for(lambda s: bool(s.zones[0].last and s.zones[0].last.tickets
                                               == [ticket]), timeout=10)
        zone = state.zones[0]
        assert zone.zone == "floor1" and zone.policy is VoicePolicy.NORMAL
        assert zone.sink.ok and zone.sink.kind == "file"
        assert zone.last is not None and zone.last.text == f"请{ticket}号到九号综合窗口办理"
        assert zone.last.worst_delay_s < 2.0
        assert state.pack_problems == []
        # Said twice when the hall is calm: the repeat follows in its own file.
        repeat = _wait_for_files(tmp_path / "voice" / "out" / "floor1", 2)[1]
        assert repeat.name == "000002-repeat.wav"
        # A recall is announced again.
        hall.ok("recall", window_id="w9")
        _wait_for_files(tmp_path / "voice" / "out" / "floor1", 3)
    finally:
        watcher.stop()
        daemon.stop()


def test_a_failing_output_is_reported_and_retried(site: SiteConfig, hall: Hall,
                                                 tmp_path: Path) -> None:
    blocked = tmp_path / "speakers"
    blocked.write_text("not a folder")  # the output cannot be created: like a card unplugged
    daemon = VoiceDaemon(site, data_dir=tmp_path,
                         sink_factory=lambda zone: WavFileSink(blocked / zone))
    daemon.start(wait=10)
    watcher, states = _watch_state(site)
    try:
        hall.ok("login", window_id="w1", staff_id="s001")
        ticket = hall.ok("take_ticket", service_id="household")["ticket"]["number"]
        hall.ok("call_next", window_id="w1")
        down = states.wait_for(lambda s: not s.zones[0].sink.ok, timeout=10)
        assert "cannot write" in (down.zones[0].sink.error or "")
        failures = down.zones[0].sink.failures
        states.wait_for(lambda s: s.zones[0].sink.failures > failures, timeout=5)  # retried

        blocked.unlink()  # the card is back
        files = _wait_for_files(blocked / "floor1", 1)
        assert files[0].name.endswith(f"-{ticket}.wav")
        up = states.wait_for(lambda s: s.zones[0].sink.ok and s.zones[0].calls_spoken == 1,
                             timeout=10)
        assert up.zones[0].sink.error is None
    finally:
        watcher.stop()
        daemon.stop()


def test_alsa_without_a_sound_card_raises_a_clear_error() -> None:
    sink = AlsaSink("plughw:7,0")
    with pytest.raises(SinkError, match="ALSA device plughw:7,0"):
        sink.play(np.zeros(2205, dtype=np.float32), 22050, "probe")


def test_state_comes_back_after_the_broker_lost_everything(
    site: SiteConfig, hall: Hall, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    daemon = VoiceDaemon(site, data_dir=tmp_path)
    daemon.start(wait=10)
    try:
        mosquitto.restart(forget_state=True)
        watcher, states = _watch_state(site)
        try:
            # Retained state was wiped with the broker; the daemon republishes it on reconnect.
            states.wait_for(lambda s: s.zones[0].zone == "floor1", timeout=15)
            hall.ok_resending("login", window_id="w1", staff_id="s001")
            ticket = hall.ok_resending("take_ticket", service_id="household")["ticket"]["number"]
            hall.ok_resending("call_next", window_id="w1")
            files = _wait_for_files(tmp_path / "voice" / "out" / "floor1", 1)
            assert files[0].name == f"000001-{ticket}.wav"
        finally:
            watcher.stop()
    finally:
        daemon.stop()


def test_a_notice_is_announced_at_its_time(broker_config: BrokerConfig, tmp_path: Path) -> None:
    voice = VoiceConfig.model_validate({
        "languages": ["zh", "en"],
        "notices": [
            {"id": "opening", "at": "08:30", "text_zh": "政务服务中心现在开始办公。",
             "text_en": "The centre is now open."},
            {"id": "closing", "at": "17:15", "text_zh": "距离下班还有十五分钟。"},
        ],
    })
    site = make_site().model_copy(update={"broker": broker_config, "voice": voice})
    # 08:30:20 in Shanghai: the daemon starts 20 s after the opening notice was due.
    clock = FakeClock(datetime(2026, 5, 6, 0, 30, 20, tzinfo=UTC))
    daemon = VoiceDaemon(site, data_dir=tmp_path, clock=clock)
    daemon.start(wait=10)
    try:
        files = _wait_for_files(tmp_path / "voice" / "out" / "floor1", 1)
        assert files[0].name == "000001-opening.wav"
        samples, rate = read_wav(files[0])
        # Chime, then two sentences of speech: several seconds.
        assert samples.size / rate > 3.0
        deadline = time.monotonic() + 15  # the state is updated once it has been played
        while (last := daemon.state().zones[0].last) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert last is not None and last.kind.value == "notice"
        assert last.text == "政务服务中心现在开始办公。，The centre is now open."
        # Said once a day: the same moment again queues nothing.
        start = clock.now.astimezone(site.zone) - timedelta(minutes=1)
        assert daemon.queue_due_notices(start, clock.now.astimezone(site.zone)) == []
    finally:
        daemon.stop()


def _called(site: SiteConfig, number: str, window_number: int, window_id: str = "w1") -> bytes:
    now = utc_now()
    ticket = TicketView(
        ticket_id=f"2026-05-06-{number}", number=number, business_day="2026-05-06",
        service_id="household", service_name="户籍办理", priority_class=PriorityClass.NORMAL,
        state=TicketState.CALLED, issued_at=now, queued_at=now, called_at=now,
        window_id=window_id, window_name="综合窗口",
    )
    window = WindowSummary(window_id=window_id, number=window_number, name="综合窗口",
                           mode=WindowMode.CALLING, current_ticket=number)
    return QueueEvent(type=QueueEventType.TICKET_CALLED, business_day="2026-05-06",
                      ticket=ticket, window=window).to_json()


def test_bad_call_events_are_dropped_and_the_zone_keeps_calling(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = make_site().model_copy(update={"broker": broker_config})
    daemon = VoiceDaemon(site, data_dir=tmp_path)
    daemon.start(wait=10)
    publisher = BusClient(site.hall_id, "stray", broker_config)
    publisher.start(wait=10)
    topic = queue_endpoint(site.hall_id).event
    try:
        for payload in (b"{not json", b'{"type": "ticket_called"}',
                        _called(site, "A001", 0), _called(site, "A" * 40 + "1", 3),
                        _called(site, "A-1; rm", 3)):
            assert publisher.publish(topic, payload, wait=5)
        assert publisher.publish(topic, _called(site, "B007", 2), wait=5)
        files = _wait_for_files(tmp_path / "voice" / "out" / "floor1", 1)
        assert [f.name for f in files] == ["000001-B007.wav"]
        assert all(worker.thread.is_alive() for worker in daemon.workers.values())
    finally:
        publisher.stop()
        daemon.stop()


def test_a_burst_shows_the_load_policy_in_the_retained_state(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = peak_site(zones=1).model_copy(update={"broker": broker_config})
    daemon = VoiceDaemon(site, data_dir=tmp_path)
    daemon.start(wait=10)
    watcher, states = _watch_state(site)
    publisher = BusClient(site.hall_id, "burst", broker_config)
    publisher.start(wait=10)
    topic = queue_endpoint(site.hall_id).event
    try:
        tickets = [f"A{n:03d}" for n in range(1, 13)]
        for n, ticket in enumerate(tickets, start=1):
            publisher.publish(topic, _called(site, ticket, n, f"w{n}"), wait=5)
        busy = states.wait_for(lambda s: s.zones[0].policy in UNDER_LOAD, timeout=15)
        zone = busy.zones[0]
        assert "call(s) waiting" in zone.policy_reason and "limit 15 s" in zone.policy_reason
        assert busy.drop_superseded is False  # every call is said; the state says so
        if zone.policy is VoicePolicy.COMPRESSED:
            assert 1.0 < zone.speed <= site.voice.max_speedup
            assert f"{zone.speed:.1f}x faster at the same pitch" in zone.policy_reason
        merged = states.wait_for(lambda s: s.zones[0].last is not None
                                 and len(s.zones[0].last.tickets) > 1, timeout=20)
        last = merged.zones[0].last
        assert last is not None and last.policy in UNDER_LOAD
        assert (last.speed > 1.0) is (last.policy is VoicePolicy.COMPRESSED)
        # First come, first served: the calls said before (A001 alone, unless the burst was
        # already waiting when the zone planned its first announcement) are the oldest ones,
        # and the merged announcement goes on with the very next calls, in order.
        said = list(dict.fromkeys(ticket for announcement in _announcements(states, merged)[:-1]
                                  for ticket in announcement.tickets))
        assert said == tickets[:len(said)]
        assert last.tickets == tickets[len(said):len(said) + len(last.tickets)]
        assert last.worst_delay_s <= site.voice.max_delay_s
        assert merged.zones[0].repeats_dropped >= 1 and merged.zones[0].late == 0
        # The events name a window "综合窗口" the pack has no clip for: reported, and spoken.
        assert "zh/综合窗口: clip missing from the pack; spoken by the engine" in (
            merged.pack_problems)
    finally:
        publisher.stop()
        watcher.stop()
        daemon.stop()


def _announcements(states: Collector[VoiceState], until: VoiceState) -> list[LastAnnouncement]:
    """Every announcement of the first zone its published states reported, oldest first, up to
    and including the one `until` reports."""
    said: list[LastAnnouncement] = []
    for state in list(states.items):
        last = state.zones[0].last
        if last is not None and last not in said:
            said.append(last)
        if state is until:
            break
    return said


def test_clips_a_window_needs_are_checked_at_start(broker_config: BrokerConfig,
                                                   tmp_path: Path) -> None:
    site = make_site().model_copy(update={"broker": broker_config})
    pack = load_pack(write_tone_pack(tmp_path / "pack", tone_frequencies(CALL_KEYS)), RATE)
    engine = EspeakEngine()
    daemon = VoiceDaemon(site, data_dir=tmp_path, pack=pack, engine=engine)
    daemon.start(wait=10)
    watcher, states = _watch_state(site)
    try:
        # Windows "1号窗口".."3号窗口" are spoken "窗口" after their number; the pack lacks it.
        state = states.wait_for(lambda s: bool(s.pack_problems), timeout=10)
        assert state.pack_problems == [
            "zh/窗口: clip missing from the pack; spoken by the engine"]
        assert state.pack == "tones"
        assert engine.calls == 1  # spoken once, then cached for every later call
    finally:
        watcher.stop()
        daemon.stop()


def test_a_call_is_given_up_when_the_output_stays_down(broker_config: BrokerConfig,
                                                        tmp_path: Path) -> None:
    voice = VoiceConfig(max_delay_s=0.5, sink=SinkConfig(retry_s=0.1))
    site = make_site().model_copy(update={"broker": broker_config, "voice": voice})
    blocked = tmp_path / "speakers"
    blocked.write_text("not a folder")
    pack = load_pack(write_tone_pack(tmp_path / "pack", tone_frequencies(CALL_KEYS)), RATE)
    daemon = VoiceDaemon(site, data_dir=tmp_path, pack=pack, engine=EspeakEngine(),
                         sink_factory=lambda zone: WavFileSink(blocked / zone))
    daemon.start(wait=10)
    watcher, states = _watch_state(site)
    publisher = BusClient(site.hall_id, "stray", broker_config)
    publisher.start(wait=10)
    try:
        publisher.publish(queue_endpoint(site.hall_id).event, _called(site, "C003", 3), wait=5)
        state = states.wait_for(lambda s: s.zones[0].late == 1, timeout=10)
        zone = state.zones[0]
        assert zone.calls_spoken == 0 and not zone.sink.ok and zone.sink.failures >= 2
        assert zone.backlog == 0
    finally:
        publisher.stop()
        watcher.stop()
        daemon.stop()
