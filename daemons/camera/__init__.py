"""One camera's supervision: seat presence, absences, waiting-area crowding."""
