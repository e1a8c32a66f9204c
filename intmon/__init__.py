"""intmon's surfaces: the command line, the HTTP API, the web console and the demo.

They sit on top of everything: the foundation (`core`: settings, database,
metrics, logging, egress) and the stages (integrations, checks, alerts, worker),
which never import from here.
"""

__version__ = "0.1.0"
