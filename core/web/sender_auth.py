"""Is an Inbound Parse email really from its ``From`` address? SendGrid's verdicts, read strictly.

SendGrid's Inbound Parse checks SPF and DKIM on the mail it receives and posts the results
with the message: ``SPF`` is the SPF result for the envelope sender (``pass``, ``fail``,
``softfail``, ``neutral``, ``none``...), ``dkim`` lists each signature's domain and result in
a JSON-like form that is not JSON (``{@example.org : pass}``, several separated by commas, or
``none``), and ``envelope`` is JSON whose ``from`` is the envelope sender.

An email counts as authenticated only when both pass *for the From address's own domain*:
SPF passes and the envelope sender's domain is aligned with it, and at least one DKIM
signature passes whose domain is aligned with it ("aligned": the same domain, or the From
domain is a subdomain of it, as DMARC's relaxed alignment). A signature from the mail
provider's own domain, or SPF for a bounce address elsewhere, proves nothing about the From
address: anyone can send "From: agent@example.org" through their own server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr

_DKIM_ENTRY = re.compile(r"@([A-Za-z0-9.-]+)\s*:\s*([A-Za-z_]+)")


@dataclass(frozen=True)
class Verdict:
    """Whether the email is authenticated and, if not, why (shown to the sender)."""

    authenticated: bool
    why_not: str = ""


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


def aligned(signer: str, domain: str) -> bool:
    """True when ``signer`` is ``domain`` or a parent domain of it (never a bare TLD)."""
    signer, domain = signer.strip(".").lower(), domain.strip(".").lower()
    if not signer or "." not in signer:
        return False
    return domain == signer or domain.endswith("." + signer)


def dkim_results(field: str) -> list[tuple[str, str]]:
    """(domain, result) per DKIM signature in SendGrid's ``dkim`` field; [] for ``none``."""
    return [(d.lower(), r.lower()) for d, r in _DKIM_ENTRY.findall(field or "")]


def envelope_sender(field: str) -> str:
    """The envelope ``from`` of SendGrid's ``envelope`` JSON ('' when missing or malformed)."""
    try:
        data = json.loads(field or "{}")
    except (ValueError, RecursionError):
        return ""
    value = data.get("from") if isinstance(data, dict) else None
    return parseaddr(value)[1].lower() if isinstance(value, str) else ""


def verdict(fields: Mapping[str, str], sender: str) -> Verdict:
    """SendGrid's SPF and DKIM results for ``sender`` (the From address, lower case)."""
    domain = _domain(sender)
    spf = (fields.get("SPF") or fields.get("spf") or "").strip().lower()[:40] or "missing"
    signatures = dkim_results(fields.get("dkim", ""))
    dkim_ok = any(result == "pass" and aligned(d, domain) for d, result in signatures)
    envelope = envelope_sender(fields.get("envelope", ""))
    spf_ok = spf == "pass" and bool(envelope) and aligned(_domain(envelope), domain)
    problems = []
    if not spf_ok:
        problems.append(f"SPF {spf}" if spf != "pass" else f"SPF did not pass for {domain}")
    if not dkim_ok:
        passing = [d[:60] for d, result in signatures if result == "pass"]
        problems.append(
            f"no DKIM signature of {domain} passed"
            + (f" (only {', '.join(passing[:3])})" if passing else "")
        )
    return Verdict(not problems, "; ".join(problems))
