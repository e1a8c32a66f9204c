"""The foundation every stage stands on: settings, the database engine and base
model, the metrics registry, logging, the egress policy, rate limits and the
transactional outbox (`outbox`); and the words every stage shares (`vocabulary`:
check outcomes, the JSON assertion language, answer shapes, scenario callbacks).

Imports run one way (the import-linter contract in pyproject.toml keeps them):
core ← integrations ← checks ← alerts ← worker ← intmon (the command line, the
API, the web console and the demo). Nothing here imports from above.
"""
