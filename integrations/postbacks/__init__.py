"""Postback monitors: a broker calls intmon back about the leads it took, and silence is a failure.

    (integrations.specs.postbacks: what the file says (`postbacks:`), the check's name)
    models.py    the `postbacks` table: one row per broker event, linked to the ledger's lead
    signature.py the shared secret: an HMAC of the raw body, or the secret as a token
    store.py     recording a postback (idempotent on the broker's event id) and linking it
    monitor.py   the share of delivered leads that got a postback in the window, and the
                 pure rule that judges it (`missed_postbacks` or `ok`)

A postback monitor is a check named `postbacks:ratio`: its results flow through
the same incidents, tickets, notifications and maintenance windows as probes.
"""
