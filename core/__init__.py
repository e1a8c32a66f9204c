"""The foundation every stage stands on: settings, the database engine and base
model, the metrics registry, logging, the egress policy and rate limits.

Imports run one way (the import-linter contract in pyproject.toml keeps them):
core ← integrations ← checks ← alerts ← worker ← intmon (the command line, the
API, the web console and the demo). Nothing here imports from above.
"""
