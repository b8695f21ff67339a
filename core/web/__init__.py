"""The one ASGI app behind ``crisiscast serve``: ``app`` (warm launches, incident pages, banner
and feeds), ``api/`` (the REST API under ``/api/v1``), ``auth`` (who is calling: tokens,
sessions, CSRF, the role check), ``login`` (sign-in pages), ``case_page`` (the phone link an
agent's page SMS carries), ``webhooks`` (provider webhooks and the public reply form),
``receipts`` (delivery receipts), ``request_checks`` (signatures and form parsing),
``reply_form``, ``intake_queue`` (inbound messages stored in batches), ``sender_auth``
(SendGrid's SPF/DKIM verdict on an agent's email), and ``warm`` (how the CLI finds a running
server).

May import: flows, the domain, channels, the playbook; never the CLI.
"""
