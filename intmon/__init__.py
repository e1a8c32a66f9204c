"""intmon glue: settings, database, metrics registry and the command line.

The stages live in their own top-level packages (integrations → worker →
checks → alerts); this package only wires them together.
"""

__version__ = "0.1.0"
