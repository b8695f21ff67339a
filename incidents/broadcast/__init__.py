"""Getting the word out: the delivery ledger (one row per incident x announcement x channel x
recipient, so nobody gets a message twice), its counts, delivery receipts, and the sending hot
path that the broadcast flow runs per shard without Prefect.

``decisions`` is pure (reach, shards, language, retries, pacing). May import: ``audience``,
``store``, the channels (``crisiscast.channels``) and the playbook.
"""
