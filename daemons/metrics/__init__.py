"""The hall's Prometheus exporter (`hall metrics`): hall-level figures read off the bus."""
