"""The default run: a whole simulated hall on one machine."""
