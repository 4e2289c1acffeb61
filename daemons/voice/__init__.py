"""The voice announcer: phrases, voice packs, rendering, the per-zone scheduler, sinks, daemon."""
