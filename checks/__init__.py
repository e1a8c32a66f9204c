"""Probing and classification: a check spec goes in, a `CheckResult` comes out.

Nothing here touches the database; the worker hands results on to storage.
"""
