"""Notifications: signed webhooks to a clinic's own systems, and escalation of waiting
crisis cases (shared spec §9).

- ``signing``: Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``) and endpoint secrets.
- ``addresses``: the SSRF guard; which destinations a delivery may connect to.
- ``sender``: one HTTP attempt (pooled ``httpx`` client, 10 s total, no redirects) to the
  address that was checked.
- ``delivery``: the worker's delivery job: fan events out, claim due deliveries, send,
  record the outcome, back off.
- ``escalation``: the worker's escalation job.

Events are written by ``screening.services.outbox`` in the transaction of the change.
"""
