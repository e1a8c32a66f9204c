"""Incidents, tickets, SLA clocks, contacts and notifications (built on the core pipeline).

Empty until the incidents stage lands: nothing here yet consumes check results.
"""
