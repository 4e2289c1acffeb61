"""Generated camera pictures for tests and the demo: a window desk with the staff seat, and a
waiting area with a known number of people.

The seated staff member is the public-domain portrait in shared/data/astronaut.png (or a drawn
figure when that file is not at hand), cut to a head-and-shoulders shape. Every frame gets sensor
noise, as a real camera does; faults (frozen, black, covered) are rendered as a camera shows them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from drivers.camera.regions import Image

WIDTH, HEIGHT = 640, 360
# $HALL_PORTRAIT, else the shared test data beside the repository.
PORTRAIT_CANDIDATES = tuple(
    Path(p) for p in (
        os.environ.get("HALL_PORTRAIT", ""),
        Path(__file__).resolve().parents[3] / "shared" / "data" / "astronaut.png",
    ) if str(p)
)
# Seats of the generated desk scene (normalised), two windows side by side.
SEAT_POLYGONS = {
    "left": [(0.12, 0.12), (0.42, 0.12), (0.42, 0.70), (0.12, 0.70)],
    "right": [(0.58, 0.12), (0.88, 0.12), (0.88, 0.70), (0.58, 0.70)],
}
WAITING_AREA_POLYGON = [(0.02, 0.05), (0.98, 0.05), (0.98, 0.98), (0.02, 0.98)]
PERSON_AREA = 0.0085  # share of a crowd frame one generated person covers


@dataclass(frozen=True)
class SeatSpec:
    person: str = "none"  # none | seated | looking_down
    person_dx: int = 0
    chair_dx: int = 0


@dataclass(frozen=True)
class DeskSpec:
    seats: tuple[SeatSpec, ...] = (SeatSpec(), SeatSpec())
    light: float = 1.0  # gain on every pixel
    jpeg_quality: int | None = None
    blocker: bool = False  # a citizen standing between camera and the left seat
    camera: str = "ok"  # ok | frozen | black | covered

    def with_seat(self, index: int, **changes: object) -> DeskSpec:
        seats = list(self.seats)
        seats[index] = replace(seats[index], **changes)  # type: ignore[arg-type]
        return replace(self, seats=tuple(seats))


def portrait_path() -> Path | None:
    return next((path for path in PORTRAIT_CANDIDATES if path.is_file()), None)


def _portrait(size: int) -> Image:
    path = portrait_path()
    if path is not None:
        picture = cv2.imread(str(path))
        if picture is not None:
            # The astronaut's head and shoulders fill the square.
            return cv2.resize(picture, (size, size), interpolation=cv2.INTER_AREA)
    # Without the portrait: a light shirt and a face-coloured head, unlike the dark chair.
    drawn = np.full((size, size, 3), (215, 215, 225), np.uint8)
    cv2.circle(drawn, (size // 2, size // 3 + 10), size // 5, (140, 170, 215), -1)
    cv2.rectangle(drawn, (size // 2 - 12, size // 3 + 40), (size // 2 + 12, size), (90, 60, 40), -1)
    return drawn


def _silhouette(size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 3 + 10), (size // 4, size // 3), 0, 0, 360, 255, -1)
    cv2.ellipse(mask, (size // 2, size), (size // 2, size // 2 + 20), 0, 180, 360, 255, -1)
    return mask


class SensorNoise:
    """Gaussian sensor noise from a small bank of patterns, never the same one twice running.

    Drawing fresh noise for every pixel of every frame would cost more than analysing the frame;
    consecutive frames still always differ, as a live camera's do.
    """

    PATTERNS = 6

    def __init__(self, seed: int, sigma: float = 2.0) -> None:
        self._rng = np.random.default_rng(seed)
        self._bank = [
            np.round(self._rng.normal(0, sigma, (HEIGHT, WIDTH, 3))).astype(np.int16)
            for _ in range(self.PATTERNS)
        ]
        self._last = -1

    def __call__(self, frame: Image) -> Image:
        choice = int(self._rng.integers(0, self.PATTERNS - 1))
        self._last = choice if choice < self._last else choice + 1
        pattern = self._bank[self._last][: frame.shape[0], : frame.shape[1]]
        noisy: Image = np.clip(frame.astype(np.int16) + pattern, 0, 255).astype(np.uint8)
        return noisy


class DeskScene:
    """Renders `DeskSpec`s; frame content depends only on the spec and the noise generator."""

    def __init__(self, seed: int = 1) -> None:
        self._noisy = SensorNoise(seed)
        self._person = _portrait(200)
        self._person_mask = _silhouette(200)
        self._down_person = self._looking_down(self._person)
        self._background = self._draw_background()
        self._last: Image | None = None

    @staticmethod
    def _looking_down(person: Image) -> Image:
        # Head tilted forward and turned: the frontal face is gone, the body is not.
        turn = cv2.getRotationMatrix2D((100, 140), 38, 1.0)
        tilted = cv2.warpAffine(person, turn, (200, 200), borderMode=cv2.BORDER_REPLICATE)
        return np.roll(tilted, 18, axis=0)

    def _draw_background(self) -> Image:
        rng = np.random.default_rng(7)
        panels = np.full((HEIGHT, WIDTH, 3), (170, 180, 190), np.uint8)
        for x in range(0, WIDTH, 40):  # wall panels give the picture structure
            cv2.line(panels, (x, 0), (x, 250), (150, 160, 170), 2)
        texture = rng.normal(0, 6, (HEIGHT, WIDTH, 1)).astype(np.int16)
        wall: Image = np.clip(panels.astype(np.int16) + texture, 0, 255).astype(np.uint8)
        cv2.rectangle(wall, (0, 250), (WIDTH, HEIGHT), (60, 90, 130), -1)  # desk front
        cv2.rectangle(wall, (0, 244), (WIDTH, 252), (200, 210, 215), -1)  # desk top
        cv2.putText(wall, "1", (140, 320), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (230, 230, 230), 3)
        cv2.putText(wall, "2", (480, 320), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (230, 230, 230), 3)
        return wall

    def render(self, spec: DeskSpec) -> Image:
        if spec.camera == "frozen" and self._last is not None:
            return self._last.copy()
        if spec.camera == "black":
            frame = self._noisy(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
        elif spec.camera == "covered":
            frame = self._noisy(np.full((HEIGHT, WIDTH, 3), (40, 55, 80), np.uint8))
        else:
            frame = self._render_desk(spec)
        self._last = frame
        return frame.copy()

    def _render_desk(self, spec: DeskSpec) -> Image:
        frame = self._background.copy()
        for seat, centre_x in zip(spec.seats, (173, 467), strict=False):
            chair_x = centre_x + seat.chair_dx
            cv2.rectangle(frame, (chair_x - 70, 90), (chair_x + 70, 246), (40, 40, 45), -1)
            cv2.rectangle(frame, (chair_x - 60, 100), (chair_x + 60, 236), (70, 70, 80), 3)
            if seat.person != "none":
                picture = self._person if seat.person == "seated" else self._down_person
                self._paste(frame, picture, centre_x - 100 + seat.person_dx, 52)
        frame[244:] = self._background[244:]  # the desk hides the lower body and the chair legs
        if spec.blocker:
            cv2.ellipse(frame, (200, 300), (95, 170), 0, 0, 360, (35, 30, 110), -1)
            cv2.circle(frame, (200, 110), 45, (120, 140, 180), -1)
        if spec.light != 1.0:
            frame = np.clip(frame.astype(np.float32) * spec.light, 0, 255).astype(np.uint8)
        frame = self._noisy(frame)
        if spec.jpeg_quality is not None:
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
            if ok:
                frame = np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), np.uint8)
        return frame

    def _paste(self, frame: Image, picture: Image, left: int, top: int) -> None:
        size = picture.shape[0]
        area = frame[top:top + size, left:left + size]
        mask = self._person_mask[: area.shape[0], : area.shape[1]] > 0
        area[mask] = picture[: area.shape[0], : area.shape[1]][mask]



class CrowdScene:
    """A waiting area seen from above at an angle, with a chosen number of people."""

    def __init__(self, seed: int = 3) -> None:
        self._noisy = SensorNoise(seed)
        rng = np.random.default_rng(11)
        floor = np.full((HEIGHT, WIDTH, 3), (150, 160, 165), np.uint8)
        for y in range(0, HEIGHT, 30):  # floor tiles
            cv2.line(floor, (0, y), (WIDTH, y), (135, 145, 150), 1)
        for x in range(0, WIDTH, 30):
            cv2.line(floor, (x, 0), (x, HEIGHT), (135, 145, 150), 1)
        texture = rng.normal(0, 5, (HEIGHT, WIDTH, 1)).astype(np.int16)
        self.background = np.clip(floor.astype(np.int16) + texture, 0, 255).astype(np.uint8)
        self._slots = [
            (x, y) for y in range(45, HEIGHT - 40, 78) for x in range(45, WIDTH - 30, 62)
        ]

    @property
    def capacity(self) -> int:
        return len(self._slots)

    def render(self, count: int, layout_seed: int = 0) -> Image:
        """`count` people on distinct, jittered places; the same seed gives the same places."""
        if count > self.capacity:
            raise ValueError(f"at most {self.capacity} people fit")
        layout = np.random.default_rng(layout_seed)
        places = layout.choice(len(self._slots), size=count, replace=False)
        frame = self.background.copy()
        for index in places:
            x, y = self._slots[int(index)]
            x += int(layout.integers(-6, 7))
            y += int(layout.integers(-6, 7))
            coat = tuple(int(c) for c in layout.integers(20, 110, 3))
            cv2.ellipse(frame, (x, y + 22), (19, 26), 0, 0, 360, coat, -1)
            cv2.circle(frame, (x, y - 10), 12, (60, 80, 110), -1)
        return self._noisy(frame)



class DeskTimeline:
    """A scripted desk: from each `start_s` (seconds since the scene began) the given spec."""

    def __init__(self, steps: list[tuple[float, DeskSpec]], seed: int = 1) -> None:
        if not steps or steps[0][0] != 0:
            raise ValueError("a timeline starts at 0 s")
        self.steps = sorted(steps, key=lambda step: step[0])
        self.scene = DeskScene(seed)

    def spec_at(self, elapsed_s: float) -> DeskSpec:
        current = self.steps[0][1]
        for start, spec in self.steps:
            if start <= elapsed_s:
                current = spec
        return current

    def render(self, elapsed_s: float) -> Image:
        return self.scene.render(self.spec_at(elapsed_s))


def demo_timeline(period_s: float = 600.0) -> DeskTimeline:
    """The demo's desk, repeating every `period_s`: window 1's seat is empty at first (the
    reference), its staff member sits down, leaves for longer than the default grace period, and
    comes back; window 2's staff member sits throughout, sometimes looking down."""
    seated = DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec(person="seated")))
    away = seated.with_seat(0, person="none")
    return DeskTimeline([
        (0, DeskSpec()),
        (0.05 * period_s, seated),
        (0.2 * period_s, seated.with_seat(1, person="looking_down")),
        (0.3 * period_s, away),
        (0.85 * period_s, seated),
    ])
