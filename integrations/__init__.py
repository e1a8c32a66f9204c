"""What to watch: the YAML schema, the registry in the database, secrets and results."""
