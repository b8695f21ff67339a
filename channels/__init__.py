"""Channels: one module per provider and medium, behind one small interface (see base.py)."""
