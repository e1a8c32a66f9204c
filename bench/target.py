"""A loopback partner for benchmarks when nginx is not installed: `python bench/target.py PORT`."""

from __future__ import annotations

import sys

from aiohttp import web

BODY = b'{"status": "ok", "items": []}'


async def answer(_request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
