"""Who a broadcast reaches: contacts imported from a CSV (checked row by row, deduplicated) and
opt-outs, honoured at once and for good.

May import: ``store``. Opt-outs suppress queued ledger rows with plain SQL on the deliveries
table, so the audience never needs the broadcast room.
"""
