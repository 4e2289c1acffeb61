"""The RS-485 line daemon: one serial port and every device on it."""
