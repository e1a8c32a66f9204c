"""The blocks of the integrations file whose code has a package of its own.

`integrations.config` composes the whole schema from these, and the packages
that act on a block (`leads/`, `heartbeats/`, `postbacks/`) read the config
back, so the blocks' shapes sit here, below both, and nothing here imports the
config or those packages:

    leads        `delivery`, `change_notices`, `lead_flow`
                 (the body templates: `integrations.lead_templates`)
    heartbeats   `heartbeats`: push monitors, and when a ping is due
    postbacks    `postbacks`: the broker's callbacks about its leads

The blocks with no package of their own are modules beside the config
(`scenarios`, `windows`, `tiers`).
"""
