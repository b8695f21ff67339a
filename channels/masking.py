"""Mask personal data and secrets before they reach a log line, an error message or a URL.

``+15005550006`` -> ``+1500****006``; ``jane.doe@example.com`` -> ``j***@example.com``;
tokens -> ``****`` (with at most the last 4 characters, only when the token is long).
"""

from __future__ import annotations

MASK = "****"


def mask_phone(number: str) -> str:
    """Keep the country/area prefix and the last 3 digits, enough to tell numbers apart."""
    if len(number) <= 8:
        return MASK
    return f"{number[:5]}{MASK}{number[-3:]}"


def mask_email(address: str) -> str:
    """Keep the first letter and the domain: the domain helps diagnose provider rejections."""
    local, sep, domain = address.rpartition("@")
    if not sep or not local:
        return MASK
    return f"{local[0]}***@{domain}"


def mask_address(address: str | None) -> str:
    """Mask whatever kind of address this is (phone, email, handle)."""
    if address is None:
        return "-"
    if "@" in address and not address.startswith("@"):
        return mask_email(address)
    if address.startswith("+") or address.isdigit():
        return mask_phone(address)
    return MASK


def mask_secret(secret: str, *, show_last: int = 0) -> str:
    """Mask a token; ``show_last`` reveals a short suffix of long tokens (to tell keys apart)."""
    if show_last and len(secret) >= 16:
        return f"{MASK}{secret[-show_last:]}"
    return MASK
