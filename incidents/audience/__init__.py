"""Who a broadcast reaches: the contact directory (contacts imported from a CSV, checked row by
row, deduplicated; named lists, saved filters, areas) and the targets a launch, broadcast or
update names (``directory``), and opt-outs, honoured at once and for good.

May import: ``store``. Opt-outs suppress queued ledger rows with plain SQL on the deliveries
table, so the audience never needs the broadcast room.
"""
