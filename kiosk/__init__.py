"""The touchscreen ticketing kiosk."""
