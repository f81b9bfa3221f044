"""Methods of the v1 API whose capability has not landed yet answer UNIMPLEMENTED through here,
naming the capability, so a caller knows what is missing rather than guessing (README lists them)."""

from __future__ import annotations

from xiaodian.errors import Unimplemented


def pending(method: str, capability: str) -> Unimplemented:
    return Unimplemented(
        f"{method} is not implemented yet: it arrives with the {capability}",
        reason="CAPABILITY_NOT_YET_AVAILABLE",
        metadata={"method": method, "capability": capability},
    )
