"""The duty manager's web console: the live hall in a browser (`hall console`)."""
