"""QR and ID-card scanners: key events to text, evdev reader, simulator."""
