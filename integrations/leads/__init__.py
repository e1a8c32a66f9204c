"""The lead-delivery ledger: hand leads to brokers, record every attempt, say who is liable.

    submit (API, CLI, Python)          record (the platform delivered itself)
        → leads (a durable queue row per lead and integration)
        → dispatch: hold while the integration is under maintenance or has an open
          auth/connectivity incident; otherwise send through the delivery adapter,
          inside the partner's rate budget, in arrival order
        → lead_attempts (append-only: every attempt, hold and expiry)
        → liability: maintenance window, change notice (48 h rule), incident
        → report (table, CSV, JSON) and `intmon_leads_total`

Modules: `models` (tables), `ledger` (submit and record), `delivery` (lead →
request → outcome), `dispatch` (the queue's sending pass), `holding` (the leads
it holds or expires instead), `queue` (what both share), `lease` (one
dispatcher per integration at a time), `expiry` (tells the platform of expired
leads), `notices` (change notices), `liability` (the pure rule). The report
that loads the evidence the rule needs (incidents, outages) and judges each lead
is `alerts.lead_report`, the `intmon_leads_total` counter `alerts.lead_metrics`,
and the rule that holds leads during an incident `alerts.lead_holds`, which the
callers hand to `dispatch` (they read alert tables, so they sit a layer up). The
YAML blocks are `integrations.specs.leads`, their body templates
`integrations.lead_templates`, and the per-partner request budget that
deliveries share with the checks `integrations.partner_budget`.
"""
