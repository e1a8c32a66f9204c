"""What the API answers, as pydantic models: the OpenAPI document's response schemas.

One module per part of the API, next to nothing else (`common.py` holds the
shared pieces). The models describe the data the routes really return: the
views in `alerts.queries`, `integrations.*` and `checks.scenarios.report`. They
forbid fields they do not name, so a view that grows a field fails the API tests
instead of the field being silently dropped from answers; documents stored as
JSON (a scenario report, a window's spec, a ticket's form) are open.
"""
