"""Generated orders for the demo catalog: baskets of one shop's products, stacked coupons of
every funder (merchant, platform, government 国补, creator), creator commission on most orders
and five-party agency chains on some, guides (导购) and gifts; plus what happens next —
receipts confirmed, after-sale cases, partial and full refunds. Deterministic by seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as pb

DAY_S = 86_400
#: WeChat's five-party chain: agency, sub-agency, creator, promoter agency, promoter.
FIVE_PARTY_KINDS = (
    pb.PARTY_KIND_AGENCY,
    pb.PARTY_KIND_SUB_AGENCY,
    pb.PARTY_KIND_CREATOR,
    pb.PARTY_KIND_PROMOTER_AGENCY,
    pb.PARTY_KIND_PROMOTER,
)
#: Pass-downs of WeChat's example (¥10 → keeps ¥4, ¥2, ¥2, ¥1, ¥1).
FIVE_PARTY_PASS_DOWNS = (600_000, 666_667, 500_000, 500_000, 0)


@dataclass(frozen=True)
class RefundPlan:
    """A refund to record once the order's split is known: every line in full, or a third of
    the first line with something paid."""

    order_id: str
    refunded_at_s: int
    full: bool
    after_sale_id: str = ""

    def request(self, split: pb.OrderSplit) -> pb.RecordRefundRequest | None:
        """The refund request for the order's recorded `split`; None when nothing was paid."""
        paid = [(line.line_id, line.paid_fen) for line in split.lines if line.paid_fen > 0]
        if not paid:
            return None
        lines = paid if self.full else [(paid[0][0], max(1, paid[0][1] // 3))]
        return pb.RecordRefundRequest(
            request_id=f"{self.order_id}-rf",
            order_id=self.order_id,
            refund_id=f"{self.order_id}-f1",
            lines=[pb.RefundLine(line_id=line_id, amount_fen=amount) for line_id, amount in lines],
            refunded_at=_ts(self.refunded_at_s),
            after_sale_id=self.after_sale_id,
        )


@dataclass
class DemoOrders:
    """Orders to record, then what happens to them."""

    orders: list[pb.Order]
    confirmations: list[pb.ConfirmReceiptRequest] = field(default_factory=list)
    after_sales: list[pb.OpenAfterSaleRequest] = field(default_factory=list)
    refunds: list[RefundPlan] = field(default_factory=list)


def _ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def generate_order(
    rng: random.Random, order_id: str, products: Sequence[search_pb.Product], paid_at_s: int, creators: int = 500
) -> pb.Order:
    """One realistic order: 1-4 lines of one shop's products (picked from `products`, which
    should be one shop's), coupons, commission, sometimes a chain, a guide or a gift."""
    picked = rng.sample(list(products), min(len(products), rng.choice((1, 1, 1, 2, 2, 3, 4))))
    lines = [
        pb.OrderLine(
            line_id=f"l{i + 1}",
            product_id=p.product_id,
            category_id=p.category_id,
            unit_price_fen=p.price_fen,
            quantity=rng.choice((1, 1, 1, 1, 2, 2, 3)),
        )
        for i, p in enumerate(picked)
    ]
    gross = sum(line.unit_price_fen * line.quantity for line in lines)
    discounts: list[pb.Discount] = []
    for funder, chance, share in (
        (pb.DISCOUNT_FUNDER_MERCHANT, 0.5, 0.10),  # 店铺券
        (pb.DISCOUNT_FUNDER_PLATFORM, 0.2, 0.05),  # 平台券
        (pb.DISCOUNT_FUNDER_GOVERNMENT, 0.05, 0.15),  # 国补
        (pb.DISCOUNT_FUNDER_CREATOR, 0.1, 0.03),  # 达人券
    ):
        on = [] if len(lines) == 1 or rng.random() < 0.7 else [rng.choice(lines)]
        # At most `share` of the lines it covers: all coupons together stay under a third.
        base = sum(line.unit_price_fen * line.quantity for line in on) if on else gross
        amount = int(base * share * rng.uniform(0.5, 1.0))
        if rng.random() < chance and amount > 0:
            discounts.append(
                pb.Discount(
                    discount_id=f"d{len(discounts) + 1}",
                    funder=funder,
                    amount_fen=amount,
                    line_ids=[line.line_id for line in on],
                )
            )
    attribution = pb.Attribution()
    has_creator = rng.random() < 0.7 or any(d.funder == pb.DISCOUNT_FUNDER_CREATOR for d in discounts)
    if has_creator:
        creator = f"creator-{int(rng.paretovariate(1.2)) % creators:04d}"  # a few creators sell most
        attribution.creator.CopyFrom(
            pb.CreatorCommission(creator_id=creator, ratio_ppm=rng.choice((50_000, 100_000, 150_000, 200_000)))
        )
    if rng.random() < 0.25:
        size = rng.choice((1, 2, 3, 5))
        kinds = FIVE_PARTY_KINDS if size == 5 else FIVE_PARTY_KINDS[:size]
        pass_downs = FIVE_PARTY_PASS_DOWNS if size == 5 else (*([500_000] * (size - 1)), 0)
        attribution.agency_chain.CopyFrom(
            pb.AgencyChain(
                service_ratio_ppm=rng.choice((20_000, 50_000, 80_000)),
                parties=[
                    pb.ChainParty(
                        kind=kind,
                        party_id=f"{pb.PartyKind.Name(kind).lower()[11:]}-{rng.randrange(50)}",
                        pass_down_ppm=pd,
                    )
                    for kind, pd in zip(kinds, pass_downs, strict=True)
                ],
            )
        )
    gift = rng.random() < 0.05
    return pb.Order(
        order_id=order_id,
        shop_id=picked[0].shop_id,
        paid_at=_ts(paid_at_s),
        lines=lines,
        discounts=discounts,
        attribution=attribution if (has_creator or attribution.HasField("agency_chain")) else None,
        guide_id=f"guide-{rng.randrange(40)}" if rng.random() < 0.15 else "",
        is_gift=gift,
        giver_id=f"buyer-{rng.randrange(10_000)}" if gift else "",
    )


def generate_orders(
    seed: int, products: Sequence[search_pb.Product], order_count: int, start_s: int, days: int = 30
) -> DemoOrders:
    """`order_count` orders over `days` days from `start_s`, and their later lifecycle: most
    receipts confirmed within a week, ~5 % after-sale cases, ~8 % partial and ~3 % full refunds
    (an unclaimed gift is always refunded in full)."""
    rng = random.Random(seed)
    by_shop: dict[str, list[search_pb.Product]] = {}
    for product in products:
        by_shop.setdefault(product.shop_id, []).append(product)
    shops = sorted(by_shop)
    weights = [len(by_shop[s]) ** 1.3 for s in shops]  # bigger shops sell more than their share
    demo = DemoOrders(orders=[])
    for n in range(order_count):
        shop = rng.choices(shops, weights)[0]
        paid_at_s = start_s + int(days * DAY_S * n / max(1, order_count))
        order = generate_order(rng, f"demo-{seed}-{n:07d}", by_shop[shop], paid_at_s)
        demo.orders.append(order)
        later = paid_at_s + rng.randrange(1, 7) * DAY_S
        unclaimed_gift = order.is_gift and rng.random() < 0.3
        roll = rng.random()
        if unclaimed_gift or roll < 0.03:
            demo.refunds.append(RefundPlan(order.order_id, later, full=True))
            continue
        if roll < 0.08:
            demo.after_sales.append(
                pb.OpenAfterSaleRequest(
                    request_id=f"{order.order_id}-as",
                    order_id=order.order_id,
                    after_sale_id=f"{order.order_id}-as1",
                    line_ids=[order.lines[0].line_id],
                    opened_at=_ts(later),
                    reason="商品与描述不符",
                )
            )
            demo.refunds.append(
                RefundPlan(order.order_id, later + DAY_S, full=False, after_sale_id=f"{order.order_id}-as1")
            )
        elif roll < 0.16:
            demo.refunds.append(RefundPlan(order.order_id, later, full=False))
        if rng.random() < 0.9:
            demo.confirmations.append(
                pb.ConfirmReceiptRequest(
                    request_id=f"{order.order_id}-cr", order_id=order.order_id, confirmed_at=_ts(later)
                )
            )
    return demo
