"""Notifications: signed webhooks to a clinic's own systems, and escalation of waiting
crisis cases (shared spec §9).

- ``signing``: Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``) and endpoint secrets.
- ``addresses``: the SSRF guard; which destinations a delivery may connect to.
- ``sender``: one HTTP/1.1 attempt (written over the socket, kept-alive connections
  pooled per checked address, 10 s total, no redirects) to an address that was checked.
- ``delivery``: the worker's delivery job: dispatch events into deliveries and claim due
  ones in one transaction per tick, send them on per-destination lanes, record the
  outcomes in the next tick, back off.
- ``escalation``: the worker's escalation job.

Events are written by ``screening.services.outbox`` in the transaction of the change.
"""
