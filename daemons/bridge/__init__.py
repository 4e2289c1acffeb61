"""The bridge to the central approval backend: durable outbox, HTTPS uplink, downlink documents."""
