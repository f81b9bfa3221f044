"""Orders as the split kernel sees them: validation (SPEC §5), conversion to the kernel's
tuples, and the kernel's line splits as `xiaodian.v1.OrderSplit` messages.

A line split is kept as the kernel's `LineTuple` (gross, discount shares, paid, subsidy
[creator, platform, government], new_merchant_base, fee, creator_commission, chain_kept,
merchant); per line, exactly: paid + Σ subsidy = merchant + fee + creator + Σ chain_kept.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from xiaodian.platform.config import SettlementConfig
from xiaodian.v1 import settlement_service_pb2 as pb

#: A line split as the kernel returns it (see the module docstring).
LineTuple = tuple[int, list[int], int, list[int], int, int, int, list[int], int]
#: An order as the kernel takes it: (shop position, lines, discounts, commission terms).
OrderTuple = tuple[int, list[tuple[int, int, int]], list[tuple[int, int, list[int]]], tuple[int, int, list[int]]]
#: An order's totals as the kernel returns them: (paid, subsidy [creator, platform,
#: government], fee, creator_commission, merchant, chain kept per party).
OrderTotals = tuple[int, list[int], int, int, int, list[int]]
#: A line's cumulative reversal: (subsidy, fee, creator_commission, chain_kept, merchant).
ReversalTuple = tuple[list[int], int, int, list[int], int]

MAX_LINES = 500
MAX_DISCOUNTS = 50
MAX_CHAIN = 5
MAX_RATIO_PPM = 900_000
#: Largest unit price and quantity accepted (each line's gross is also bounded: `MoneyBounds`).
MAX_UNIT_PRICE_FEN = 10**12
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class MoneyBounds:
    """The money bounds of an order (`[settlement] max_line_fen`, `max_order_fen`): a line's
    gross (unit_price_fen × quantity) at most `max_line_fen`, the order's (the sum of its
    lines') at most `max_order_fen`, both inclusive. The configuration keeps `max_order_fen`
    at most 2^53, so every amount split from an order and every total of it stays far inside
    int64; sums over many orders are checked where they are kept (`ledger.add_sums`)."""

    max_line_fen: int = SettlementConfig.max_line_fen
    max_order_fen: int = SettlementConfig.max_order_fen


FUNDER_NAMES = {
    pb.DISCOUNT_FUNDER_MERCHANT: "MERCHANT",
    pb.DISCOUNT_FUNDER_CREATOR: "CREATOR",
    pb.DISCOUNT_FUNDER_PLATFORM: "PLATFORM",
    pb.DISCOUNT_FUNDER_GOVERNMENT: "GOVERNMENT",
}
PARTY_KIND_NAMES = {
    pb.PARTY_KIND_AGENCY: "AGENCY",
    pb.PARTY_KIND_SUB_AGENCY: "SUB_AGENCY",
    pb.PARTY_KIND_CREATOR: "CREATOR",
    pb.PARTY_KIND_PROMOTER_AGENCY: "PROMOTER_AGENCY",
    pb.PARTY_KIND_PROMOTER: "PROMOTER",
}

BUYER_FUNDS = "buyer_funds"
ESCROW = "escrow"
PLATFORM_FEE = "platform:fee"
PLATFORM_SUBSIDY = "platform:subsidy"
GOVERNMENT_SUBSIDY = "government:subsidy"


def merchant_account(shop_id: str) -> str:
    return f"merchant:{shop_id}"


def creator_account(creator_id: str) -> str:
    return f"creator:{creator_id}"


def party_account(party: pb.ChainParty) -> str:
    return f"party:{PARTY_KIND_NAMES[party.kind]}:{party.party_id}"


def chain_parties(order: pb.Order) -> Sequence[pb.ChainParty]:
    attribution = order.attribution
    return attribution.agency_chain.parties if attribution.HasField("agency_chain") else ()


def pass_downs(order: pb.Order) -> list[int]:
    return [p.pass_down_ppm for p in chain_parties(order)]


@dataclass(frozen=True)
class FeePolicy:
    """The platform technical service fee (SPEC §5): a rate per category, and the
    new-merchant allowance of `new_merchant_cap_fen` fee base at `new_merchant_rate_ppm`."""

    default_rate_ppm: int = 50_000
    rate_ppm_by_category: tuple[tuple[str, int], ...] = ()
    new_merchant_cap_fen: int = 100_000_000
    new_merchant_rate_ppm: int = 10_000

    @functools.cached_property
    def rates(self) -> dict[str, int]:
        """Fee rate per category id with its own rate."""
        return dict(self.rate_ppm_by_category)


#: A day in microseconds (a window of N days is N x 24 hours, SPEC §5).
DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Policy:
    """The settlement configuration: fees, how long after receipt an order settles, and the
    money bounds of an order (`MoneyBounds`). `new_merchant_window_days` > 0 limits the
    new-merchant allowance to shops opened (in the search catalog) within that many days
    before the order was paid."""

    fees: FeePolicy = FeePolicy()
    settle_after_days: int = 7
    new_merchant_window_days: int = 0
    bounds: MoneyBounds = MoneyBounds()


def split_message(order: pb.Order, lines: Sequence[LineTuple]) -> pb.OrderSplit:
    """The kernel's line splits of `order` as an `OrderSplit`."""
    split = pb.OrderSplit()
    parties = chain_parties(order)
    covers = [set(d.line_ids) for d in order.discounts]
    for line, (gross, shares, paid, subsidy, base, fee, creator, kept, merchant) in zip(
        order.lines, lines, strict=True
    ):
        message = split.lines.add(
            line_id=line.line_id,
            gross_fen=gross,
            paid_fen=paid,
            creator_subsidy_fen=subsidy[0],
            platform_subsidy_fen=subsidy[1],
            government_subsidy_fen=subsidy[2],
            gmv_fen=paid + sum(subsidy),
            new_merchant_fee_base_fen=base,
            fee_fen=fee,
            creator_commission_fen=creator,
            agency_service_fee_fen=sum(kept),
            merchant_fen=merchant,
        )
        for discount, share, cover in zip(order.discounts, shares, covers, strict=True):
            if not cover or line.line_id in cover:
                message.discounts.add(discount_id=discount.discount_id, funder=discount.funder, amount_fen=share)
        received = sum(kept)
        for party, keeps in zip(parties, kept, strict=True):
            message.chain.add(
                kind=party.kind,
                party_id=party.party_id,
                received_fen=received,
                passed_down_fen=received - keeps,
                kept_fen=keeps,
            )
            received -= keeps
        split.paid_fen += paid
        split.subsidy_fen += sum(subsidy)
        split.fee_fen += fee
        split.creator_commission_fen += creator
        split.agency_service_fee_fen += sum(kept)
        split.merchant_fen += merchant
    return split


def _creator(order: pb.Order) -> str:
    """The attributed creator's account, or "" without one."""
    attribution = order.attribution
    return creator_account(attribution.creator.creator_id) if attribution.HasField("creator") else ""


def subsidy_accounts(order: pb.Order) -> list[str]:
    """The accounts of the creator, platform and government subsidy funders, in that order."""
    return [_creator(order), PLATFORM_SUBSIDY, GOVERNMENT_SUBSIDY]


def add_party_parts(
    owed: dict[str, int], order: pb.Order, fee: int, creator_commission: int, kept: Sequence[int], merchant_fen: int
) -> None:
    """Adds each party's part (merchant, platform fee, creator, chain parties) to `owed`, by
    account; one place maps the parts of a split or a reversal to the accounts they belong to."""
    merchant = merchant_account(order.shop_id)
    owed[merchant] = owed.get(merchant, 0) + merchant_fen
    owed[PLATFORM_FEE] = owed.get(PLATFORM_FEE, 0) + fee
    creator = _creator(order)
    if creator:
        owed[creator] = owed.get(creator, 0) + creator_commission
    for party, keeps in zip(chain_parties(order), kept, strict=True):
        account = party_account(party)
        owed[account] = owed.get(account, 0) + keeps


def payouts(order: pb.Order, totals: OrderTotals) -> dict[str, int]:
    """What each party receives when the order settles (before any refund)."""
    _paid, _subsidy, fee, creator_commission, merchant_fen, kept = totals
    owed: dict[str, int] = {}
    add_party_parts(owed, order, fee, creator_commission, kept, merchant_fen)
    return owed


def split_totals(lines: Sequence[LineTuple]) -> OrderTotals:
    """An order's totals (as the kernel returns them) from its line splits: their sums."""
    chain = len(lines[0][7]) if lines else 0
    return (
        sum(line[2] for line in lines),
        [sum(line[3][k] for line in lines) for k in range(3)],
        sum(line[5] for line in lines),
        sum(line[6] for line in lines),
        sum(line[8] for line in lines),
        [sum(line[7][p] for line in lines) for p in range(chain)],
    )


def unpack_split(blob: bytes) -> list[LineTuple]:
    """The line splits packed by the kernel (`settle::pack` in Rust: little-endian i64 words:
    line count, discount count, chain length, then per line gross, paid, the three subsidies,
    new_merchant_base, fee, creator_commission, merchant, the discount shares, the kept amounts)."""
    words = struct.unpack(f"<{len(blob) // 8}q", blob)
    line_count, discount_count, chain_length = words[:3]
    lines: list[LineTuple] = []
    at = 3
    for _ in range(line_count):
        gross, paid, s0, s1, s2, base, fee, creator, merchant = words[at : at + 9]
        shares = list(words[at + 9 : at + 9 + discount_count])
        kept = list(words[at + 9 + discount_count : at + 9 + discount_count + chain_length])
        lines.append((gross, shares, paid, [s0, s1, s2], base, fee, creator, kept, merchant))
        at += 9 + discount_count + chain_length
    return lines
