"""The `intmon demo`: a fake partner (the sandbox) and an integrations file pointing at it."""
