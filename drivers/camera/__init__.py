"""Camera supervision: seat presence at the windows, waiting-area crowding, camera faults.

Frames come from a `FrameSource` (sources.py); `CameraSupervisor` (supervisor.py) turns analysed
frames into bus payloads without touching the bus; daemon.py connects it to the bus and restarts a
stalled stream.
"""
