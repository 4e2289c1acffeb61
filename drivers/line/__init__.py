"""RS-485 line devices: frames, commands, keypads, pads, transport, simulator."""
