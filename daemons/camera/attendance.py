"""From per-frame seat verdicts to the seat states the supervision cares about.

* Presence must hold for `settle_s` before the state follows it; an empty seat must hold for
  `LEAVE_SETTLE_S`, so a citizen standing in front of the desk for a while (a dark coat can look
  much like the empty chair) does not flip the seat. The absence clock still starts at the first
  empty verdict, so this delays no alert.
* `absent` needs an empty seat for the grace period while the window is open (staff
  logged in, not paused); the clock starts at the later of the seat emptying and the window
  opening. It ends after `settle_s` of presence evidence, or when the window closes.
* A camera fault (verdict None) says nothing about the seat: the state is `unknown`, timers start
  again afterwards, and a running absence is closed rather than left to grow unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hall_bus.contract.camera import CameraEventType, SeatState

LEAVE_SETTLE_S = 45.0


@dataclass(frozen=True)
class SeatChange:
    type: CameraEventType
    window_id: str
    state: SeatState
    reason: str = ""
    absent_since: datetime | None = None
    absent_s: int | None = None


class SeatAttendance:
    def __init__(self, window_id: str, grace_s: float, settle_s: float, now: datetime) -> None:
        self.window_id = window_id
        self.grace_s = grace_s
        self.settle_s = settle_s
        self.state = SeatState.UNKNOWN
        self.since = now
        self.empty_since: datetime | None = None
        self._occupied_since: datetime | None = None
        self._open_since: datetime | None = None
        # Start of the running absence: the later of the seat emptying and the window opening,
        # so an absence resumed after a pause is a new one (the engine raises one per start).
        self._absence_start: datetime | None = None

    def update(
        self, now: datetime, occupied: bool | None, window_open: bool
    ) -> list[SeatChange]:
        changes: list[SeatChange] = []
        self._track_window(now, window_open, changes)
        if occupied is None:
            self._fault(now, changes)
        elif occupied:
            self._occupied(now, changes)
        else:
            self._empty(now, window_open, changes)
        return changes

    def _move(self, now: datetime, state: SeatState, changes: list[SeatChange]) -> None:
        if state is self.state:
            return
        self.state = state
        self.since = now
        changes.append(SeatChange(CameraEventType.PRESENCE_CHANGED, self.window_id, state))

    def _end_absence(self, now: datetime, reason: str, changes: list[SeatChange]) -> None:
        since = self._absence_start or self.since
        self._absence_start = None
        changes.append(SeatChange(
            CameraEventType.ABSENCE_ENDED, self.window_id, self.state, reason, since,
            int((now - since).total_seconds()),
        ))

    def _track_window(self, now: datetime, window_open: bool, changes: list[SeatChange]) -> None:
        if not window_open:
            self._open_since = None
            if self.state is SeatState.ABSENT:
                self._move(now, SeatState.EMPTY, changes)
                self._end_absence(now, "window_closed", changes)
        elif self._open_since is None:
            self._open_since = now

    def _fault(self, now: datetime, changes: list[SeatChange]) -> None:
        was_absent = self.state is SeatState.ABSENT
        self._move(now, SeatState.UNKNOWN, changes)
        if was_absent:
            self._end_absence(now, "camera_fault", changes)
        self.empty_since = None
        self._occupied_since = None

    def _occupied(self, now: datetime, changes: list[SeatChange]) -> None:
        if self._occupied_since is None:
            self._occupied_since = now
        if self.state is SeatState.PRESENT:
            self.empty_since = None
            return
        if (now - self._occupied_since).total_seconds() < self.settle_s:
            return
        was_absent = self.state is SeatState.ABSENT
        self._move(now, SeatState.PRESENT, changes)
        if was_absent:
            self._end_absence(now, "returned", changes)
        self.empty_since = None

    def _empty(self, now: datetime, window_open: bool, changes: list[SeatChange]) -> None:
        self._occupied_since = None
        if self.empty_since is None:
            self.empty_since = now
        empty_for = (now - self.empty_since).total_seconds()
        settle = LEAVE_SETTLE_S if self.state is SeatState.PRESENT else self.settle_s
        if self.state in (SeatState.PRESENT, SeatState.UNKNOWN) and empty_for >= settle:
            self._move(now, SeatState.EMPTY, changes)
        if self.state is not SeatState.EMPTY or not window_open or self._open_since is None:
            return
        start = max(self.empty_since, self._open_since)
        if (now - start).total_seconds() >= self.grace_s:
            self._move(now, SeatState.ABSENT, changes)
            self._absence_start = start
            changes.append(SeatChange(
                CameraEventType.ABSENCE_STARTED, self.window_id, SeatState.ABSENT, "",
                start, int((now - start).total_seconds()),
            ))
