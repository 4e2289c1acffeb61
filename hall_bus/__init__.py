"""The hall bus: its contract, its client, and the services that live only on the bus."""
