"""Devices that speak MQTT themselves (pads and screens on the LAN)."""
