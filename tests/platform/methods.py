"""Every method of the three services, as (full name, descriptor): for tests that call them all."""

from __future__ import annotations

from xiaodian.v1 import creator_service_pb2, search_service_pb2, settlement_service_pb2

SERVICES = [
    d.services_by_name[name]
    for d, name in (
        (search_service_pb2.DESCRIPTOR, "SearchService"),
        (creator_service_pb2.DESCRIPTOR, "CreatorService"),
        (settlement_service_pb2.DESCRIPTOR, "SettlementService"),
    )
]
METHODS = [(f"/{s.full_name}/{m.name}", m) for s in SERVICES for m in s.methods]
