"""How ``crisiscast serve`` runs the app under uvicorn: the options that are policy, not taste.

uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise, so anyone on the
machine (or a local proxy passing the header through) could pick the client address the reply
form's per-client limit keys on. Here nothing is believed unless ``CRISISCAST_FORWARDED_ALLOW_IPS``
names the proxy in front.
"""

from __future__ import annotations

from typing import Any

from crisiscast.config import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` besides the app, host, port."""
    trusted = ",".join(settings.forwarded_allow_ips)
    # "" (not None): None makes uvicorn fall back to $FORWARDED_ALLOW_IPS or 127.0.0.1.
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}
