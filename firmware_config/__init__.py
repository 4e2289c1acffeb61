"""Site configuration: YAML files, their schema and validator, and broker configuration."""
