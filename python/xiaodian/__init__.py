"""xiaodian: platform core for social commerce (search ranking, creator scoring, settlement).

The public Python API is the client and the error hierarchy:

    import xiaodian
    with xiaodian.Client("127.0.0.1:50051") as client:
        client.get_ranking_profile(name="default")
"""

from xiaodian import errors
from xiaodian.client import Client

__all__ = ["Client", "errors"]
__version__ = "0.1.0"
