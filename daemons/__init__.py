"""The hall's daemons, one folder per systemd unit. A daemon never imports another."""
