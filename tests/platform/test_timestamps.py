"""Every timestamp of every request is checked at the door: one outside protobuf's range
(0001-01-01 to 9999-12-31) is INVALID_ARGUMENT naming its field, in unary calls, batches and
streams alike, and nothing is written; the range's own ends are accepted."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.platform.validation import TIMESTAMP_MAX_SECONDS, TIMESTAMP_MIN_SECONDS
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as pb

BAD = [
    Timestamp(seconds=TIMESTAMP_MAX_SECONDS + 1),
    Timestamp(seconds=TIMESTAMP_MIN_SECONDS - 1),
    Timestamp(seconds=0, nanos=-1),
    Timestamp(seconds=0, nanos=10**9),
]


def order(order_id: str, paid_at: Timestamp) -> pb.Order:
    line = pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=1_000, quantity=1)
    return pb.Order(order_id=order_id, shop_id="s1", paid_at=paid_at, lines=[line])


def violation(refused: pytest.ExceptionInfo[errors.InvalidArgument]) -> list[str]:
    return [v.field for v in refused.value.violations]


@pytest.mark.parametrize("bad", BAD, ids=["after-9999", "before-0001", "negative-nanos", "nanos-overflow"])
def test_out_of_range_timestamps_are_invalid_arguments(client: Client, bad: Timestamp) -> None:
    good = Timestamp(seconds=1_750_000_000)
    with pytest.raises(errors.InvalidArgument) as refused:
        client.record_orders(orders=[order("o-good", good), order("o-bad", bad)])
    assert violation(refused) == ["orders[1].paid_at"]
    with pytest.raises(errors.InvalidArgument) as refused:
        list(
            client.stream_record_orders(
                iter([pb.StreamRecordOrdersRequest(request_id="b1", orders=[order("o-s", bad)])])
            )
        )
    assert violation(refused) == ["orders[0].paid_at"]
    with pytest.raises(errors.InvalidArgument) as refused:
        client.run_settlement(as_of=bad)
    assert violation(refused) == ["as_of"]
    with pytest.raises(errors.InvalidArgument) as refused:
        client.get_statement(account="escrow", start_time=good, end_time=bad)
    assert violation(refused) == ["end_time"]
    shop = search_pb.Shop(shop_id="s1", name="山下有松", opened_at=bad, experience_score=4.5)
    with pytest.raises(errors.InvalidArgument) as refused:
        client.upsert_shops(shops=[shop])
    assert violation(refused) == ["shops[0].opened_at"]
    for order_id in ("o-good", "o-bad", "o-s"):  # nothing written
        with pytest.raises(errors.NotFound):
            client.get_order(order_id=order_id)


def test_the_ends_of_the_range_are_accepted(client: Client) -> None:
    for seconds in (TIMESTAMP_MIN_SECONDS, TIMESTAMP_MAX_SECONDS):
        client.run_settlement(as_of=Timestamp(seconds=seconds, nanos=999_999_999))
        client.get_statement(account="escrow", start_time=Timestamp(seconds=seconds))
