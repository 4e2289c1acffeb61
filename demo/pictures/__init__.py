"""Pictures of screens, displays and the console from a real in-process hall."""
