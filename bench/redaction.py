"""The cost of redaction per check result, before and after every form of a secret.

What the probe engine does for each result of a check with secrets: redact the
detail and the response excerpt (`ProbeEngine._excerpt`). Three bodies — a small
JSON answer, a 64 KiB one, and one that echoes the token JSON-escaped — with a
Bearer token and its Basic pair as the secret set. "exact" is the redaction
intmon had before (`str.replace` of each value over the whole body); "forms"
is `integrations.redaction` over the window the engine now redacts.

    .venv/bin/python bench/redaction.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import timeit
from functools import partial

from integrations.redaction import redactor_for

TOKEN = "tok_Ab3/9xQ+zz/KL=="
SECRETS = frozenset({TOKEN, base64.b64encode(f"user:{TOKEN}".encode()).decode()})
EXCERPT_BYTES = 512
BODIES = {
    "small JSON": b'{"status":"ok","items":[1,2,3],"message":"accepted"}',
    "64 KiB JSON": (b'{"id": 1234, "name": "hello/world", "tags": ["a", "b"]},\n' * 1200)[:65536],
    "echo, JSON-escaped": b'{"got":"Bearer tok_Ab3\\/9xQ+zz\\/KL=="}' * 4,
}


def exact(body: bytes) -> str:
    """The redaction before: each value, as is, over the whole body."""
    text = body.decode("utf-8", errors="replace")
    for value in sorted(SECRETS, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "[REDACTED]")
    return text[:EXCERPT_BYTES]


def forms(body: bytes) -> str:
    """The redaction now: every form, over the excerpt and as far past it as a match reaches."""
    return redactor_for(frozenset(SECRETS)).excerpt(body, EXCERPT_BYTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 runs each (a smoke test)")
    quick = parser.parse_args().quick
    print(f"{'body':<20} {'exact µs':>10} {'forms µs':>10}")
    for name, body in BODIES.items():
        timings = []
        for redaction in (exact, forms):
            redaction(body)  # compiles and caches the secrets' expressions: not timed
            timer = timeit.Timer(partial(redaction, body))
            runs, total = (100, timer.timeit(100)) if quick else timer.autorange()
            timings.append(total / runs * 1e6)
        print(f"{name:<20} {timings[0]:>10.1f} {timings[1]:>10.1f}")


if __name__ == "__main__":
    main()
