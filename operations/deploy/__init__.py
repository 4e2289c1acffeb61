"""Putting a hall on a Debian machine: systemd units, udev rules, broker config, installer."""
