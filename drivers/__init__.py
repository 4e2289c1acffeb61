"""Device drivers: one module per device kind (protocol codec, driver, simulator)."""
