"""The `hall` command, installation and the health check of a running hall."""
