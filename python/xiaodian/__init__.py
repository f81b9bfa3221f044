"""xiaodian: platform core for social commerce (search ranking, creator scoring, settlement).

The public Python API is the client and the error hierarchy:

    import xiaodian
    with xiaodian.Client("127.0.0.1:50051") as client:
        client.get_ranking_profile(name="default")

The client is imported on first use (`xiaodian.Client`), so the server's modules, which import
`xiaodian.errors`, do not load the client and its stubs with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xiaodian import errors

if TYPE_CHECKING:
    from xiaodian.client import Client

__all__ = ["Client", "errors"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Client":
        from xiaodian.client import Client

        return Client
    raise AttributeError(f"module 'xiaodian' has no attribute {name!r}")
