"""Camera supervision cost: analysed frames per second per core at 640x360 with four seats, and
the CPU share one camera takes at the default analysis rate.

Run: .venv/bin/python -m bench.camera_bench [--frames N] [--process-seconds S]

OpenCV is limited to one thread and CPU time (not wall time) is measured, so the figures are per
core. The frames are generated desk scenes (seated, looking down, empty, lighting changes, a
citizen in front), analysed as the daemon does. The per-camera share adds decoding a 640x360
stream at 25 fps, measured on an MPEG-4 file written from the same scenes; a camera's H.264
sub-stream costs about as much. Finally a real `hall camera` process runs on the demo's
generated desk (rendering stands in for decoding) at the default rate, and its CPU time is read
from /proc: everything a camera costs, Python, MQTT client and threads included.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from daemons.camera.supervisor import CameraSupervisor
from drivers.camera.regions import Image
from drivers.camera.scene import SEAT_POLYGONS, DeskScene, DeskSpec, SeatSpec
from firmware_config.camera import CameraConfig, SeatConfig

START = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
STREAM_FPS = 25.0
# Four seats: the two desk seats, and each split into an upper and a lower half-seat polygon,
# so four regions of realistic size are analysed per frame.
FOUR_SEATS = {
    "w1": SEAT_POLYGONS["left"],
    "w2": SEAT_POLYGONS["right"],
    "w3": [(0.20, 0.15), (0.36, 0.15), (0.36, 0.65), (0.20, 0.65)],
    "w4": [(0.64, 0.15), (0.80, 0.15), (0.80, 0.65), (0.64, 0.65)],
}


def _frames(count: int) -> list[Image]:
    scene = DeskScene()
    seated = DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec(person="seated")))
    specs = [
        seated,
        seated.with_seat(1, person="looking_down"),
        DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec())),
        DeskSpec(seats=seated.seats, light=0.7),
        DeskSpec(seats=seated.seats, blocker=True),
        DeskSpec(),
    ]
    return [scene.render(specs[(i // 20) % len(specs)]) for i in range(count)]


def analysis_cpu_per_frame(frames: list[Image], face_every_frame: bool = False) -> float:
    # A face is searched only when the reference difference is undecided; widening that band
    # to everything makes every seat search every frame: the worst case.
    band = {"empty_change": 0.001, "occupied_change": 0.999} if face_every_frame else {}
    config = CameraConfig(
        name="bench", source="generated:desk",
        seats=[SeatConfig(window=w, polygon=p, **band) for w, p in FOUR_SEATS.items()],
    )
    supervisor = CameraSupervisor(config, 300, None, START)
    supervisor.capture_references(DeskScene().render(DeskSpec()))
    open_windows: dict[str, str | None] = {w: None for w in FOUR_SEATS}
    started = time.process_time()
    for index, frame in enumerate(frames):
        supervisor.process(frame, START + timedelta(seconds=index / 2), open_windows)
    return (time.process_time() - started) / len(frames)


def decode_cpu_per_frame(frames: list[Image]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stream.mp4"
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter.fourcc(*"mp4v"), STREAM_FPS, (640, 360)
        )
        for frame in frames:
            writer.write(frame)
        writer.release()
        capture = cv2.VideoCapture(str(path))
        decoded = 0
        started = time.process_time()
        while True:
            ok, _ = capture.read()
            if not ok:
                break
            decoded += 1
        spent = time.process_time() - started
        capture.release()
    if decoded == 0:
        raise RuntimeError("the MPEG-4 test stream could not be decoded")
    return spent / decoded


def process_cpu_share(seconds: float) -> float:
    """CPU share of one core used by a `hall camera` process on the demo desk (no broker needed:
    the client keeps retrying in the background, which costs next to nothing)."""
    from bench.engine_process import write_site
    from firmware_config.loader import load_site

    site = load_site(None)
    camera = site.cameras[0]
    with tempfile.TemporaryDirectory() as folder:
        site = site.model_copy(update={"data_dir": Path(folder)})
        site_path = write_site(site, Path(folder) / "site.yaml")
        process = subprocess.Popen(
            [sys.executable, "-m", "operations.cli", "camera", "--site", str(site_path),
             "--camera", camera.name, "--capture-reference"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # imports and the first frames are start-up, not steady state
            before, started = _cpu_seconds(process.pid), time.monotonic()
            time.sleep(seconds)
            used = _cpu_seconds(process.pid) - before
            share = used / (time.monotonic() - started)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    return share


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--process-seconds", type=float, default=20.0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frames = _frames(args.frames)
    analysis = analysis_cpu_per_frame(frames)
    worst = analysis_cpu_per_frame(frames, face_every_frame=True)
    decode = decode_cpu_per_frame(frames)
    default_fps = CameraConfig(name="x", source="usb:0").analysis_fps
    print(f"frames analysed: {len(frames)} at 640x360, 4 seats, 1 OpenCV thread")
    print(f"analysis CPU per frame: {analysis * 1000:.2f} ms")
    print(f"analysed frames per second per core: {1 / analysis:.1f}")
    print(f"worst case, a face search in every seat every frame: {worst * 1000:.2f} ms, "
          f"{1 / worst:.1f} frames per second per core")
    print(f"decode CPU per 640x360 frame (MPEG-4): {decode * 1000:.2f} ms")
    analysis_share = analysis * default_fps
    decode_share = decode * STREAM_FPS
    print(f"CPU share per camera at {default_fps:g} analysed fps: analysis {analysis_share:.1%}"
          f" + decoding a {STREAM_FPS:g} fps stream {decode_share:.1%}"
          f" = {analysis_share + decode_share:.1%} of one core")
    share = process_cpu_share(args.process_seconds)
    print(f"`hall camera` process on the generated desk at {default_fps:g} fps, "
          f"{args.process_seconds:g} s: {share:.1%} of one core")


if __name__ == "__main__":
    main()
