"""The one ASGI app behind ``crisiscast serve``: ``app`` (warm launches, incident pages, banner
and feeds), ``webhooks`` (provider webhooks and the public reply form), ``receipts`` (delivery
receipts), ``request_checks`` (signatures and form parsing), ``reply_form``, ``intake_queue``
(inbound messages stored in batches), ``sender_auth`` (SendGrid's SPF/DKIM verdict on an
agent's email), and ``warm`` (how the CLI finds a running server).

May import: flows, the domain, channels, the playbook; never the CLI.
"""
