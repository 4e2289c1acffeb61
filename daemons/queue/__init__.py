"""The queue engine: the only writer of queue state."""
