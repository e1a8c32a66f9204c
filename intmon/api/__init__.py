"""The HTTP API: support, clients and testers reading and acting on tickets over JSON.

Glue like the CLI: `intmon.app` builds the FastAPI application (it mounts this
API and the web console, so it sits above both), `auth.py` turns a
bearer token into a `Principal`, `access.py` decides what that principal may
see, and the route modules parse input, call one function of `alerts/` or
`integrations/`, and report. Importing this package does not import FastAPI.
"""
