"""The embedded MQTT broker for development runs."""
