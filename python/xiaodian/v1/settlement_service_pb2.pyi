import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DiscountFunder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISCOUNT_FUNDER_UNSPECIFIED: _ClassVar[DiscountFunder]
    DISCOUNT_FUNDER_MERCHANT: _ClassVar[DiscountFunder]
    DISCOUNT_FUNDER_CREATOR: _ClassVar[DiscountFunder]
    DISCOUNT_FUNDER_PLATFORM: _ClassVar[DiscountFunder]
    DISCOUNT_FUNDER_GOVERNMENT: _ClassVar[DiscountFunder]

class PartyKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTY_KIND_UNSPECIFIED: _ClassVar[PartyKind]
    PARTY_KIND_AGENCY: _ClassVar[PartyKind]
    PARTY_KIND_SUB_AGENCY: _ClassVar[PartyKind]
    PARTY_KIND_CREATOR: _ClassVar[PartyKind]
    PARTY_KIND_PROMOTER_AGENCY: _ClassVar[PartyKind]
    PARTY_KIND_PROMOTER: _ClassVar[PartyKind]

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_PAID: _ClassVar[OrderState]
    ORDER_STATE_RECEIPT_CONFIRMED: _ClassVar[OrderState]
    ORDER_STATE_SETTLED: _ClassVar[OrderState]
    ORDER_STATE_CLOSED: _ClassVar[OrderState]

class TransferCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_CODE_UNSPECIFIED: _ClassVar[TransferCode]
    TRANSFER_CODE_PAYMENT: _ClassVar[TransferCode]
    TRANSFER_CODE_SUBSIDY: _ClassVar[TransferCode]
    TRANSFER_CODE_SETTLEMENT: _ClassVar[TransferCode]
    TRANSFER_CODE_REFUND: _ClassVar[TransferCode]
    TRANSFER_CODE_CLAWBACK: _ClassVar[TransferCode]
DISCOUNT_FUNDER_UNSPECIFIED: DiscountFunder
DISCOUNT_FUNDER_MERCHANT: DiscountFunder
DISCOUNT_FUNDER_CREATOR: DiscountFunder
DISCOUNT_FUNDER_PLATFORM: DiscountFunder
DISCOUNT_FUNDER_GOVERNMENT: DiscountFunder
PARTY_KIND_UNSPECIFIED: PartyKind
PARTY_KIND_AGENCY: PartyKind
PARTY_KIND_SUB_AGENCY: PartyKind
PARTY_KIND_CREATOR: PartyKind
PARTY_KIND_PROMOTER_AGENCY: PartyKind
PARTY_KIND_PROMOTER: PartyKind
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_PAID: OrderState
ORDER_STATE_RECEIPT_CONFIRMED: OrderState
ORDER_STATE_SETTLED: OrderState
ORDER_STATE_CLOSED: OrderState
TRANSFER_CODE_UNSPECIFIED: TransferCode
TRANSFER_CODE_PAYMENT: TransferCode
TRANSFER_CODE_SUBSIDY: TransferCode
TRANSFER_CODE_SETTLEMENT: TransferCode
TRANSFER_CODE_REFUND: TransferCode
TRANSFER_CODE_CLAWBACK: TransferCode

class OrderLine(_message.Message):
    __slots__ = ("line_id", "product_id", "category_id", "unit_price_fen", "quantity")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    product_id: str
    category_id: str
    unit_price_fen: int
    quantity: int
    def __init__(self, line_id: _Optional[str] = ..., product_id: _Optional[str] = ..., category_id: _Optional[str] = ..., unit_price_fen: _Optional[int] = ..., quantity: _Optional[int] = ...) -> None: ...

class Discount(_message.Message):
    __slots__ = ("discount_id", "funder", "amount_fen", "line_ids")
    DISCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FUNDER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    LINE_IDS_FIELD_NUMBER: _ClassVar[int]
    discount_id: str
    funder: DiscountFunder
    amount_fen: int
    line_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, discount_id: _Optional[str] = ..., funder: _Optional[_Union[DiscountFunder, str]] = ..., amount_fen: _Optional[int] = ..., line_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreatorCommission(_message.Message):
    __slots__ = ("creator_id", "ratio_ppm")
    CREATOR_ID_FIELD_NUMBER: _ClassVar[int]
    RATIO_PPM_FIELD_NUMBER: _ClassVar[int]
    creator_id: str
    ratio_ppm: int
    def __init__(self, creator_id: _Optional[str] = ..., ratio_ppm: _Optional[int] = ...) -> None: ...

class ChainParty(_message.Message):
    __slots__ = ("kind", "party_id", "pass_down_ppm")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PASS_DOWN_PPM_FIELD_NUMBER: _ClassVar[int]
    kind: PartyKind
    party_id: str
    pass_down_ppm: int
    def __init__(self, kind: _Optional[_Union[PartyKind, str]] = ..., party_id: _Optional[str] = ..., pass_down_ppm: _Optional[int] = ...) -> None: ...

class AgencyChain(_message.Message):
    __slots__ = ("service_ratio_ppm", "parties")
    SERVICE_RATIO_PPM_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    service_ratio_ppm: int
    parties: _containers.RepeatedCompositeFieldContainer[ChainParty]
    def __init__(self, service_ratio_ppm: _Optional[int] = ..., parties: _Optional[_Iterable[_Union[ChainParty, _Mapping]]] = ...) -> None: ...

class Attribution(_message.Message):
    __slots__ = ("creator", "agency_chain")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    AGENCY_CHAIN_FIELD_NUMBER: _ClassVar[int]
    creator: CreatorCommission
    agency_chain: AgencyChain
    def __init__(self, creator: _Optional[_Union[CreatorCommission, _Mapping]] = ..., agency_chain: _Optional[_Union[AgencyChain, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "shop_id", "paid_at", "lines", "discounts", "attribution", "guide_id", "is_gift", "giver_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DISCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    GUIDE_ID_FIELD_NUMBER: _ClassVar[int]
    IS_GIFT_FIELD_NUMBER: _ClassVar[int]
    GIVER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    shop_id: str
    paid_at: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    discounts: _containers.RepeatedCompositeFieldContainer[Discount]
    attribution: Attribution
    guide_id: str
    is_gift: bool
    giver_id: str
    def __init__(self, order_id: _Optional[str] = ..., shop_id: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., discounts: _Optional[_Iterable[_Union[Discount, _Mapping]]] = ..., attribution: _Optional[_Union[Attribution, _Mapping]] = ..., guide_id: _Optional[str] = ..., is_gift: _Optional[bool] = ..., giver_id: _Optional[str] = ...) -> None: ...

class DiscountShare(_message.Message):
    __slots__ = ("discount_id", "funder", "amount_fen")
    DISCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FUNDER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    discount_id: str
    funder: DiscountFunder
    amount_fen: int
    def __init__(self, discount_id: _Optional[str] = ..., funder: _Optional[_Union[DiscountFunder, str]] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class ChainPartyShare(_message.Message):
    __slots__ = ("kind", "party_id", "received_fen", "passed_down_fen", "kept_fen")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FEN_FIELD_NUMBER: _ClassVar[int]
    PASSED_DOWN_FEN_FIELD_NUMBER: _ClassVar[int]
    KEPT_FEN_FIELD_NUMBER: _ClassVar[int]
    kind: PartyKind
    party_id: str
    received_fen: int
    passed_down_fen: int
    kept_fen: int
    def __init__(self, kind: _Optional[_Union[PartyKind, str]] = ..., party_id: _Optional[str] = ..., received_fen: _Optional[int] = ..., passed_down_fen: _Optional[int] = ..., kept_fen: _Optional[int] = ...) -> None: ...

class LineSplit(_message.Message):
    __slots__ = ("line_id", "gross_fen", "discounts", "paid_fen", "creator_subsidy_fen", "platform_subsidy_fen", "government_subsidy_fen", "gmv_fen", "new_merchant_fee_base_fen", "fee_fen", "creator_commission_fen", "agency_service_fee_fen", "chain", "merchant_fen")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    GROSS_FEN_FIELD_NUMBER: _ClassVar[int]
    DISCOUNTS_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    CREATOR_SUBSIDY_FEN_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SUBSIDY_FEN_FIELD_NUMBER: _ClassVar[int]
    GOVERNMENT_SUBSIDY_FEN_FIELD_NUMBER: _ClassVar[int]
    GMV_FEN_FIELD_NUMBER: _ClassVar[int]
    NEW_MERCHANT_FEE_BASE_FEN_FIELD_NUMBER: _ClassVar[int]
    FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    CREATOR_COMMISSION_FEN_FIELD_NUMBER: _ClassVar[int]
    AGENCY_SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_FEN_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    gross_fen: int
    discounts: _containers.RepeatedCompositeFieldContainer[DiscountShare]
    paid_fen: int
    creator_subsidy_fen: int
    platform_subsidy_fen: int
    government_subsidy_fen: int
    gmv_fen: int
    new_merchant_fee_base_fen: int
    fee_fen: int
    creator_commission_fen: int
    agency_service_fee_fen: int
    chain: _containers.RepeatedCompositeFieldContainer[ChainPartyShare]
    merchant_fen: int
    def __init__(self, line_id: _Optional[str] = ..., gross_fen: _Optional[int] = ..., discounts: _Optional[_Iterable[_Union[DiscountShare, _Mapping]]] = ..., paid_fen: _Optional[int] = ..., creator_subsidy_fen: _Optional[int] = ..., platform_subsidy_fen: _Optional[int] = ..., government_subsidy_fen: _Optional[int] = ..., gmv_fen: _Optional[int] = ..., new_merchant_fee_base_fen: _Optional[int] = ..., fee_fen: _Optional[int] = ..., creator_commission_fen: _Optional[int] = ..., agency_service_fee_fen: _Optional[int] = ..., chain: _Optional[_Iterable[_Union[ChainPartyShare, _Mapping]]] = ..., merchant_fen: _Optional[int] = ...) -> None: ...

class OrderSplit(_message.Message):
    __slots__ = ("lines", "paid_fen", "subsidy_fen", "fee_fen", "creator_commission_fen", "agency_service_fee_fen", "merchant_fen")
    LINES_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_FEN_FIELD_NUMBER: _ClassVar[int]
    FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    CREATOR_COMMISSION_FEN_FIELD_NUMBER: _ClassVar[int]
    AGENCY_SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_FEN_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LineSplit]
    paid_fen: int
    subsidy_fen: int
    fee_fen: int
    creator_commission_fen: int
    agency_service_fee_fen: int
    merchant_fen: int
    def __init__(self, lines: _Optional[_Iterable[_Union[LineSplit, _Mapping]]] = ..., paid_fen: _Optional[int] = ..., subsidy_fen: _Optional[int] = ..., fee_fen: _Optional[int] = ..., creator_commission_fen: _Optional[int] = ..., agency_service_fee_fen: _Optional[int] = ..., merchant_fen: _Optional[int] = ...) -> None: ...

class PreviewSplitRequest(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class PreviewSplitResponse(_message.Message):
    __slots__ = ("split",)
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    split: OrderSplit
    def __init__(self, split: _Optional[_Union[OrderSplit, _Mapping]] = ...) -> None: ...

class RecordOrderRequest(_message.Message):
    __slots__ = ("request_id", "order")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order: Order
    def __init__(self, request_id: _Optional[str] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class RecordOrderResponse(_message.Message):
    __slots__ = ("order_id", "split", "state")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    split: OrderSplit
    state: OrderState
    def __init__(self, order_id: _Optional[str] = ..., split: _Optional[_Union[OrderSplit, _Mapping]] = ..., state: _Optional[_Union[OrderState, str]] = ...) -> None: ...

class RecordOrdersRequest(_message.Message):
    __slots__ = ("request_id", "orders")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    def __init__(self, request_id: _Optional[str] = ..., orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ...) -> None: ...

class RecordOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[RecordOrderResponse]
    def __init__(self, orders: _Optional[_Iterable[_Union[RecordOrderResponse, _Mapping]]] = ...) -> None: ...

class StreamRecordOrdersRequest(_message.Message):
    __slots__ = ("request_id", "orders")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    def __init__(self, request_id: _Optional[str] = ..., orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ...) -> None: ...

class StreamRecordOrdersResponse(_message.Message):
    __slots__ = ("request_id", "order_ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., order_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfirmReceiptRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "confirmed_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    confirmed_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfirmReceiptResponse(_message.Message):
    __slots__ = ("state", "settle_after")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SETTLE_AFTER_FIELD_NUMBER: _ClassVar[int]
    state: OrderState
    settle_after: _timestamp_pb2.Timestamp
    def __init__(self, state: _Optional[_Union[OrderState, str]] = ..., settle_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpenAfterSaleRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "after_sale_id", "line_ids", "opened_at", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SALE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_IDS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    after_sale_id: str
    line_ids: _containers.RepeatedScalarFieldContainer[str]
    opened_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., after_sale_id: _Optional[str] = ..., line_ids: _Optional[_Iterable[str]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class OpenAfterSaleResponse(_message.Message):
    __slots__ = ("frozen",)
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    frozen: bool
    def __init__(self, frozen: _Optional[bool] = ...) -> None: ...

class RefundLine(_message.Message):
    __slots__ = ("line_id", "amount_fen")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    amount_fen: int
    def __init__(self, line_id: _Optional[str] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class RecordRefundRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "refund_id", "lines", "refunded_at", "after_sale_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SALE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    refund_id: str
    lines: _containers.RepeatedCompositeFieldContainer[RefundLine]
    refunded_at: _timestamp_pb2.Timestamp
    after_sale_id: str
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[RefundLine, _Mapping]]] = ..., refunded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., after_sale_id: _Optional[str] = ...) -> None: ...

class PartyReversal(_message.Message):
    __slots__ = ("account", "amount_fen")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    account: str
    amount_fen: int
    def __init__(self, account: _Optional[str] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class RecordRefundResponse(_message.Message):
    __slots__ = ("refund_id", "refunded_fen", "reversals", "state")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    REVERSALS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    refunded_fen: int
    reversals: _containers.RepeatedCompositeFieldContainer[PartyReversal]
    state: OrderState
    def __init__(self, refund_id: _Optional[str] = ..., refunded_fen: _Optional[int] = ..., reversals: _Optional[_Iterable[_Union[PartyReversal, _Mapping]]] = ..., state: _Optional[_Union[OrderState, str]] = ...) -> None: ...

class CloseAfterSaleRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "after_sale_id", "closed_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SALE_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    after_sale_id: str
    closed_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., after_sale_id: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CloseAfterSaleResponse(_message.Message):
    __slots__ = ("frozen",)
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    frozen: bool
    def __init__(self, frozen: _Optional[bool] = ...) -> None: ...

class RunSettlementRequest(_message.Message):
    __slots__ = ("request_id", "as_of")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunSettlementResponse(_message.Message):
    __slots__ = ("settled_count", "frozen_count", "settled_fen")
    SETTLED_COUNT_FIELD_NUMBER: _ClassVar[int]
    FROZEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_FEN_FIELD_NUMBER: _ClassVar[int]
    settled_count: int
    frozen_count: int
    settled_fen: int
    def __init__(self, settled_count: _Optional[int] = ..., frozen_count: _Optional[int] = ..., settled_fen: _Optional[int] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("refund_id", "lines", "refunded_at", "after_settlement")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    lines: _containers.RepeatedCompositeFieldContainer[RefundLine]
    refunded_at: _timestamp_pb2.Timestamp
    after_settlement: bool
    def __init__(self, refund_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[RefundLine, _Mapping]]] = ..., refunded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., after_settlement: _Optional[bool] = ...) -> None: ...

class AfterSale(_message.Message):
    __slots__ = ("after_sale_id", "line_ids", "opened_at", "resolved_at", "refund_id")
    AFTER_SALE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_IDS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    after_sale_id: str
    line_ids: _containers.RepeatedScalarFieldContainer[str]
    opened_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    refund_id: str
    def __init__(self, after_sale_id: _Optional[str] = ..., line_ids: _Optional[_Iterable[str]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refund_id: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order", "state", "frozen", "split", "refunds", "after_sales", "confirmed_at", "settle_after", "settled_at")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SALES_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLE_AFTER_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    order: Order
    state: OrderState
    frozen: bool
    split: OrderSplit
    refunds: _containers.RepeatedCompositeFieldContainer[Refund]
    after_sales: _containers.RepeatedCompositeFieldContainer[AfterSale]
    confirmed_at: _timestamp_pb2.Timestamp
    settle_after: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., state: _Optional[_Union[OrderState, str]] = ..., frozen: _Optional[bool] = ..., split: _Optional[_Union[OrderSplit, _Mapping]] = ..., refunds: _Optional[_Iterable[_Union[Refund, _Mapping]]] = ..., after_sales: _Optional[_Iterable[_Union[AfterSale, _Mapping]]] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settle_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("transfer_id", "debit_account", "credit_account", "amount_fen", "code", "order_id", "refund_id", "booked_at")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DEBIT_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKED_AT_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    debit_account: str
    credit_account: str
    amount_fen: int
    code: TransferCode
    order_id: str
    refund_id: str
    booked_at: _timestamp_pb2.Timestamp
    def __init__(self, transfer_id: _Optional[str] = ..., debit_account: _Optional[str] = ..., credit_account: _Optional[str] = ..., amount_fen: _Optional[int] = ..., code: _Optional[_Union[TransferCode, str]] = ..., order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., booked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("account", "start_time", "end_time", "page_size", "page_token")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, account: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetStatementResponse(_message.Message):
    __slots__ = ("transfers", "next_page_token")
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    next_page_token: str
    def __init__(self, transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: str
    def __init__(self, account: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("account", "settled_fen", "pending_fen")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_FEN_FIELD_NUMBER: _ClassVar[int]
    PENDING_FEN_FIELD_NUMBER: _ClassVar[int]
    account: str
    settled_fen: int
    pending_fen: int
    def __init__(self, account: _Optional[str] = ..., settled_fen: _Optional[int] = ..., pending_fen: _Optional[int] = ...) -> None: ...

class GetGuidePerformanceRequest(_message.Message):
    __slots__ = ("guide_id", "start_time", "end_time")
    GUIDE_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    guide_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, guide_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetGuidePerformanceResponse(_message.Message):
    __slots__ = ("guide_id", "order_count", "paid_fen", "refunded_fen", "settled_order_count")
    GUIDE_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    SETTLED_ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    guide_id: str
    order_count: int
    paid_fen: int
    refunded_fen: int
    settled_order_count: int
    def __init__(self, guide_id: _Optional[str] = ..., order_count: _Optional[int] = ..., paid_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., settled_order_count: _Optional[int] = ...) -> None: ...
