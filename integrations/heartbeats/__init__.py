"""Heartbeat (push) monitors: a job pings intmon, and silence past the grace is a failure.

    (integrations.specs.heartbeats: what the file says (`heartbeats:`), when a ping is due)
    models.py    the `heartbeats` table: ping key digest, last pings, next due, state
    store.py     kept in step with `intmon apply`; listing and key rotation
    pings.py     recording pings a batch at a time (the ingest endpoint's writes)
    detector.py  the leader's pass that finds heartbeats past due + grace

A heartbeat is a check named `heartbeat:<name>`: its results (`missed_heartbeat`,
`ok`) flow through the same incidents, tickets and notifications as probes.
"""
