"""The pre-registration text ``init`` writes next to the trial (``preregistration.md``).

Everything in it is public before unblinding: the protocol as written, its hash, the
commitment, the dates, and the design's warnings; nothing that depends on the allocation.
"""

from __future__ import annotations

from typing import Any

from blindself.protocol.model import Protocol
from blindself.wording import count

PREREGISTRATION_FILE = "preregistration.md"


def preregistration(
    protocol: Protocol,
    protocol_text: str,
    genesis: dict[str, Any],
    warnings: tuple[str, ...] = (),
) -> str:
    """A ready pre-registration text to post publicly: protocol, commitment, date (no arm).

    ``warnings`` are the design's warnings shown at init (power, counts the protocol's words
    contradict): listed, so a stale claim in the protocol is not published silently
    (docs/design.md#stated-counts).
    """
    p = protocol
    primary = p.primary
    alternative = (
        "two-sided"
        if p.analysis.alternative == "two-sided"
        else f"one-sided: active better than placebo ({primary.better} is better)"
    )
    lines = [
        f"# Pre-registration: {p.title}",
        "",
        f"- Question: {p.question}",
        f"- Trial id: {genesis['trial_id']}",
        f"- Registered: {str(genesis['created_at'])[:10]} (blindself {genesis['tool_version']})",
        f"- Trial days: {genesis['start']} to {genesis['end']} ({genesis['timezone']})",
        f"- Primary outcome: {primary.name} ({primary.question}), {alternative}, "
        f"alpha {p.analysis.alpha:g}; secondary outcomes corrected by {p.analysis.correction}",
        f"- Design: {p.design.kind}, dosing {p.design.dosing}, "
        f"{count(p.design.period_days, 'dose day')} per container, blinding by {'a helper' if p.design.blinding == 'helper' else 'self-shuffled envelopes'}",
        f"- Protocol SHA-256: {p.sha256}",
        f"- Allocation commitment (SHA-256 over the sealed allocation and a secret 256-bit nonce): "
        f"{genesis['commitment']}",
        "",
        "At unblinding the allocation is opened and must hash to this commitment; "
        "`blindself verify --expect-commitment HEX` checks it.",
        "",
    ]
    if warnings:
        lines += ["## Warnings shown at registration", ""]
        lines += [f"- {w[0].upper()}{w[1:]}" for w in warnings]
        lines.append("")
    lines += [
        "## Protocol",
        "",
        "```toml",
        protocol_text.rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)
