"""The API's server processes: the app each uvicorn worker builds, its collector tuned.

`intmon api --workers N` runs N processes on one port (one per core is the
production setting: the ping and postback endpoints take thousands of requests a
second). uvicorn starts each worker from an import string, so each builds its own
app here from the environment, with its own engine pool and ping writer.

Each process then tunes the garbage collector (`core.gc_tuning`) as workers and
schedulers do. The default thresholds ran a full collection every few requests of
a large page, each walking every module, template and cached spec: on the board
at 1,000 integrations that was a 115 ms pause in one request of five, the whole
of its p99 (docs/benchmarks.md, issue 23).
"""

from __future__ import annotations

from fastapi import FastAPI

APP_FACTORY = "intmon.api.server:app_from_environment"


def app_from_environment() -> FastAPI:
    from core.db import engine_for
    from core.gc_tuning import tune_gc
    from core.settings import get_settings
    from intmon.api.app import create_app

    settings = get_settings()
    app = create_app(engine_for(settings.database_url), settings)
    tune_gc()  # after the app is built: what start-up made is frozen out of the collector's way
    return app
