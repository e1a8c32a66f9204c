"""Probing and classification: a check spec goes in, a `CheckResult` comes out.

Nothing here touches the database; the worker hands results on to storage.

    loop.EngineThread.run_batch        any thread → the engine's event loop
      engine.ProbeEngine.run_check     slots, timeouts, tenacity retry, redaction
        auth        credentials per scheme (registry `auth.SCHEMES`), OAuth2 token cache
        clients     pooled httpx clients over aiohttp or httpcore, one per TLS setting
        body        the response body, read and inflated up to a cap
        classify    answer or exception → `Outcome` (pure; JSON paths: core.vocabulary.assertions)
        tls         certificate expiry from a cached side handshake
      outcomes      `Outcome`, `CheckResult` (core.vocabulary.outcomes, shared with every stage)
      errors        the package's exceptions, each permanent or transient
"""
