"""A hypothesis state machine drives the real SettlementService through gRPC (record,
confirm, after-sale, refund, settle, replay, restart) and checks every reply and every
balance against a model built on the pure-Python reference split (`xiaodian.reference`)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule
from xiaodian import Client, errors
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer
from xiaodian.reference import settlement as reference
from xiaodian.reference.orders import kernel_order
from xiaodian.settlement.orders import FeePolicy
from xiaodian.v1 import settlement_service_pb2 as pb

from tests import databases

T0 = 1_790_000_000
DAY_S = 86_400
SHOPS = ("s1", "s2")
FEES = FeePolicy(new_merchant_cap_fen=30_000)  # small, so that orders cross it
SETTLE_AFTER_DAYS = 7
PARTY_KINDS = {pb.PARTY_KIND_AGENCY: "AGENCY", pb.PARTY_KIND_PROMOTER: "PROMOTER"}


def ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


@st.composite
def orders(draw: Any, order_id: str) -> pb.Order:
    line_count = draw(st.integers(1, 3))
    lines = [
        pb.OrderLine(
            line_id=f"l{i}",
            product_id=f"p{i}",
            category_id="c1",
            unit_price_fen=draw(st.integers(0, 20_000)),
            quantity=draw(st.integers(1, 3)),
        )
        for i in range(line_count)
    ]
    gross = sum(line.unit_price_fen * line.quantity for line in lines)
    discounts = []
    for d in range(draw(st.integers(0, 2))):
        funder = draw(
            st.sampled_from([pb.DISCOUNT_FUNDER_MERCHANT, pb.DISCOUNT_FUNDER_PLATFORM, pb.DISCOUNT_FUNDER_CREATOR])
        )
        amount = draw(st.integers(1, max(1, gross // 4)))
        discounts.append(pb.Discount(discount_id=f"d{d}", funder=funder, amount_fen=amount))
    chain_size = draw(st.integers(0, 2))
    attribution = pb.Attribution(creator=pb.CreatorCommission(creator_id="c1", ratio_ppm=draw(st.integers(0, 300_000))))
    if chain_size:
        kinds = list(PARTY_KINDS)[:chain_size]
        attribution.agency_chain.CopyFrom(
            pb.AgencyChain(
                service_ratio_ppm=draw(st.integers(0, 200_000)),
                parties=[
                    pb.ChainParty(
                        kind=kind,
                        party_id="x1",
                        pass_down_ppm=draw(st.integers(0, 900_000)) if i + 1 < chain_size else 0,
                    )
                    for i, kind in enumerate(kinds)
                ],
            )
        )
    return pb.Order(
        order_id=order_id,
        shop_id=draw(st.sampled_from(SHOPS)),
        paid_at=ts(T0),
        lines=lines,
        discounts=discounts,
        attribution=attribution,
    )


@dataclass
class ModelOrder:
    order: pb.Order
    lines: list[Any]
    state: int = pb.ORDER_STATE_PAID
    refunded: list[int] = field(default_factory=list)
    settle_after: int | None = None
    confirmed_at: int | None = None
    open_cases: set[str] = field(default_factory=set)
    payouts: dict[str, int] = field(default_factory=dict)


class SettlementMachine(RuleBasedStateMachine):
    recorded = Bundle("recorded")  # (request_id, order, response) of a RecordOrder

    def __init__(self) -> None:
        super().__init__()
        self.scratch = TemporaryDirectory(prefix="xiaodian-stateful-")
        # Each run of the machine starts from an empty database (on PostgreSQL, one of its own).
        self.database = ExitStack()
        self.database_url = self.database.enter_context(databases.fresh_database_url())
        self.server: XiaodianServer | None = None
        self.client: Client | None = None
        self.orders: dict[str, ModelOrder] = {}
        self.balances: dict[str, int] = {}
        self.allowance_used: dict[str, int] = {}
        self.clock = T0
        self.counter = 0

    # --- plumbing --------------------------------------------------------------------

    def start(self) -> None:
        config = Config.ephemeral(Path(self.scratch.name) / "data")
        config.server.database_url = self.database_url
        config.settlement.new_merchant_cap_fen = FEES.new_merchant_cap_fen
        self.server = XiaodianServer(config)
        self.server.start()
        self.client = self.server.admin_client(timeout=10)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop(0)

    def teardown(self) -> None:
        self.stop()
        self.scratch.cleanup()
        self.database.close()

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def move(self, source: str, target: str, amount: int) -> None:
        self.balances[source] = self.balances.get(source, 0) - amount
        self.balances[target] = self.balances.get(target, 0) + amount

    def accounts(self, order: pb.Order) -> tuple[str, str, list[str]]:
        chain = [f"party:{PARTY_KINDS[p.kind]}:{p.party_id}" for p in order.attribution.agency_chain.parties]
        return f"merchant:{order.shop_id}", "creator:c1", chain

    def party_parts(self, order: pb.Order, parts: tuple[int, int, list[int], int]) -> dict[str, int]:
        """(fee, creator, chain kept, merchant) per account."""
        fee, creator, kept, merchant = parts
        merchant_account, creator_account, chain = self.accounts(order)
        out: dict[str, int] = {}
        for account, amount in [
            (merchant_account, merchant),
            ("platform:fee", fee),
            (creator_account, creator),
            *zip(chain, kept, strict=True),
        ]:
            out[account] = out.get(account, 0) + amount
        return out

    def reversed_so_far(self, model: ModelOrder, refunded: list[int]) -> tuple[list[int], dict[str, int]]:
        whole = all(r == line[2] for r, line in zip(refunded, model.lines, strict=True))
        pass_downs = [p.pass_down_ppm for p in model.order.attribution.agency_chain.parties]
        subsidy_total = [0, 0, 0]
        parties: dict[str, int] = {}
        for r, (_g, _s, paid, subsidy, _b, fee, creator, kept, merchant) in zip(refunded, model.lines, strict=True):
            sub, fee_r, creator_r, kept_r, merchant_r = reference.reverse_line(
                (paid, subsidy, fee, creator, kept, merchant), r, whole, pass_downs
            )
            subsidy_total = [a + b for a, b in zip(subsidy_total, sub, strict=True)]
            for account, amount in self.party_parts(model.order, (fee_r, creator_r, kept_r, merchant_r)).items():
                parties[account] = parties.get(account, 0) + amount
        return subsidy_total, parties

    # --- rules -----------------------------------------------------------------------

    @initialize()
    def boot(self) -> None:
        self.start()

    @rule(target=recorded, data=st.data())
    def record_order(self, data: st.DataObject) -> Any:
        order = data.draw(orders(self.next_id("o")))
        shop = order.shop_id
        allowance = max(0, FEES.new_merchant_cap_fen - self.allowance_used.get(shop, 0))
        request_id = self.next_id("r")
        try:
            ([lines], [left]) = reference.split_orders(
                [kernel_order(order, 0, FEES)], [allowance], FEES.new_merchant_rate_ppm
            )
        except errors.InvalidArgument:
            with pytest.raises(errors.InvalidArgument):
                self.client.record_order(request_id=request_id, order=order)  # type: ignore[union-attr]
            return (request_id, order, None)
        response = self.client.record_order(request_id=request_id, order=order)  # type: ignore[union-attr]
        for got, (_g, _s, paid, subsidy, base, fee, creator, kept, merchant) in zip(
            response.split.lines, lines, strict=True
        ):
            assert (got.paid_fen, got.new_merchant_fee_base_fen, got.fee_fen, got.creator_commission_fen) == (
                paid,
                base,
                fee,
                creator,
            )
            assert [c.kept_fen for c in got.chain] == kept and got.merchant_fen == merchant
            assert [got.creator_subsidy_fen, got.platform_subsidy_fen, got.government_subsidy_fen] == subsidy
        self.allowance_used[shop] = self.allowance_used.get(shop, 0) + allowance - left
        model = ModelOrder(order, lines, refunded=[0] * len(lines))
        for _g, _s, _paid, _sub, _b, fee, creator, kept, merchant in lines:
            for account, amount in self.party_parts(order, (fee, creator, kept, merchant)).items():
                model.payouts[account] = model.payouts.get(account, 0) + amount
        self.move("buyer_funds", "escrow", sum(line[2] for line in lines))
        for j, account in enumerate(["creator:c1", "platform:subsidy", "government:subsidy"]):
            self.move(account, "escrow", sum(line[3][j] for line in lines))
        self.orders[order.order_id] = model
        return (request_id, order, response)

    @rule(entry=recorded)
    def replay_record(self, entry: Any) -> None:
        request_id, order, response = entry
        if response is None:
            with pytest.raises(errors.InvalidArgument):
                self.client.record_order(request_id=request_id, order=order)  # type: ignore[union-attr]
        else:
            assert self.client.record_order(request_id=request_id, order=order) == response  # type: ignore[union-attr]

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), days=st.integers(0, 3))
    def confirm(self, data: st.DataObject, days: int) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        model = self.orders[order_id]
        at = T0 + days * DAY_S
        call = lambda: self.client.confirm_receipt(request_id=self.next_id("r"), order_id=order_id, confirmed_at=ts(at))  # noqa: E731
        # A confirmation replays (same time) or conflicts (another time); only PAID confirms.
        if (model.confirmed_at is not None and model.confirmed_at != at) or (
            model.confirmed_at is None and model.state != pb.ORDER_STATE_PAID
        ):
            with pytest.raises(errors.FailedPrecondition):
                call()
            return
        response = call()
        if model.confirmed_at is None:
            model.confirmed_at = at
            model.settle_after = at + SETTLE_AFTER_DAYS * DAY_S
            model.state = pb.ORDER_STATE_RECEIPT_CONFIRMED
        assert (response.state, response.settle_after.seconds) == (model.state, model.settle_after)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def open_after_sale(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        model = self.orders[order_id]
        case_id = self.next_id("as")
        call = lambda: self.client.open_after_sale(  # noqa: E731
            request_id=self.next_id("r"), order_id=order_id, after_sale_id=case_id, opened_at=ts(self.clock)
        )
        if model.state == pb.ORDER_STATE_CLOSED:
            with pytest.raises(errors.FailedPrecondition):
                call()
            return
        assert call().frozen
        model.open_cases.add(case_id)

    @precondition(lambda self: any(m.open_cases for m in self.orders.values()))
    @rule(data=st.data())
    def close_after_sale(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(o for o, m in self.orders.items() if m.open_cases)))
        model = self.orders[order_id]
        case_id = data.draw(st.sampled_from(sorted(model.open_cases)))
        response = self.client.close_after_sale(  # type: ignore[union-attr]
            request_id=self.next_id("r"), order_id=order_id, after_sale_id=case_id, closed_at=ts(self.clock)
        )
        model.open_cases.discard(case_id)
        assert response.frozen == bool(model.open_cases)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        model = self.orders[order_id]
        line = data.draw(st.integers(0, len(model.lines) - 1))
        refundable = model.lines[line][2] - model.refunded[line]
        amount = data.draw(st.sampled_from(sorted({1, max(1, refundable // 3), max(1, refundable), refundable + 1})))
        case = data.draw(st.sampled_from(sorted(model.open_cases | {""})))
        request = dict(
            request_id=self.next_id("r"),
            order_id=order_id,
            refund_id=self.next_id("f"),
            lines=[pb.RefundLine(line_id=f"l{line}", amount_fen=amount)],
            refunded_at=ts(self.clock),
            after_sale_id=case,
        )
        if model.state == pb.ORDER_STATE_CLOSED or amount > refundable:
            with pytest.raises(errors.FailedPrecondition):
                self.client.record_refund(**request)  # type: ignore[union-attr]
            return
        response = self.client.record_refund(**request)  # type: ignore[union-attr]
        before_subsidy, before_parties = self.reversed_so_far(model, model.refunded)
        model.refunded[line] += amount
        after_subsidy, after_parties = self.reversed_so_far(model, model.refunded)
        taken = {a: after_parties.get(a, 0) - before_parties.get(a, 0) for a in {*after_parties, *before_parties}}
        settled = model.state == pb.ORDER_STATE_SETTLED
        for account, delta in taken.items():
            if settled:
                self.move(account, "escrow", delta)
            else:
                model.payouts[account] -= delta
        self.move("escrow", "buyer_funds", amount)
        for j, account in enumerate(["creator:c1", "platform:subsidy", "government:subsidy"]):
            self.move("escrow", account, after_subsidy[j] - before_subsidy[j])
        if all(r == ln[2] for r, ln in zip(model.refunded, model.lines, strict=True)) and not settled:
            model.state = pb.ORDER_STATE_CLOSED
        model.open_cases.discard(case)
        assert response.refunded_fen == amount and response.state == model.state
        assert {r.account: r.amount_fen for r in response.reversals} == {a: d for a, d in taken.items() if d}

    @rule(days=st.integers(1, 10))
    def settle(self, days: int) -> None:
        self.clock += days * DAY_S
        response = self.client.run_settlement(request_id=self.next_id("r"), as_of=ts(self.clock))  # type: ignore[union-attr]
        settled = frozen = 0
        for model in self.orders.values():
            if model.state == pb.ORDER_STATE_RECEIPT_CONFIRMED and model.settle_after <= self.clock:  # type: ignore[operator]
                if model.open_cases:
                    frozen += 1
                    continue
                settled += 1
                model.state = pb.ORDER_STATE_SETTLED
                for account, amount in model.payouts.items():
                    self.move("escrow", account, amount)
        assert (response.settled_count, response.frozen_count) == (settled, frozen)

    @rule()
    def restart(self) -> None:
        self.stop()
        self.start()

    # --- invariants ------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        if self.client is None:
            return
        assert sum(self.balances.values()) == 0
        pending: dict[str, int] = {}
        for model in self.orders.values():
            if model.state in (pb.ORDER_STATE_PAID, pb.ORDER_STATE_RECEIPT_CONFIRMED):
                for account, amount in model.payouts.items():
                    pending[account] = pending.get(account, 0) + amount
        for account in sorted({*self.balances, *pending}):
            got = self.client.get_balance(account=account)
            assert (got.settled_fen, got.pending_fen) == (self.balances.get(account, 0), pending.get(account, 0)), (
                account
            )

    @invariant()
    def orders_match_the_model(self) -> None:
        if self.client is None:
            return
        for order_id, model in self.orders.items():
            got = self.client.get_order(order_id=order_id)
            assert (got.state, got.frozen) == (model.state, bool(model.open_cases)), order_id


SettlementMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_settlement_state_machine = SettlementMachine.TestCase
