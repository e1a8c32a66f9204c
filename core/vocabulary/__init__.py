"""The words every stage shares: what a check can come out as, and the small
languages a configuration is written in.

These are data shapes and pure functions with no database, network or
settings behind them, so the integrations (which validate and store them), the
checks (which produce them), the alerts (which judge them) and the surfaces
(which show them) all import them from here, below all of them.

    outcomes   `Outcome` (the StrEnum of every result), `CheckResult`
    assertions the JSON assertion language (`$.status == "ok"`): compiled when a
               configuration is validated, evaluated by probes and lead deliveries
    shapes     the shape of a partner's answer (`Shape`) and what changed in it (`diff`)
    callbacks  a partner's postback to a scenario run (`Callback`) and its four answers
               (`Delivery`: accepted, duplicate, unknown 404, ended 410)
"""
