//! Orders as the service receives them: the requests that carry orders read straight from their
//! protobuf encoding ([`read_orders`]), each `xiaodian.v1.Order` checked against the rules of
//! SPEC §5 ([`WireOrder::violations`], the one place of these rules and their messages) and
//! turned into the split's [`OrderInput`]; the rows recording writes and the responses it
//! answers, encoded here too. There is no Python path: `xiaodian.reference.orders` is the
//! plain-Python definition the tests hold this module to. An encoding this reader does not
//! take (a singular field given twice, which no protobuf library writes) is MALFORMED_REQUEST.

use std::collections::HashMap;
use std::fmt::Write;

use xiaodian_core::FieldViolation;

use xiaodian_core::settle::{
    ChainLink, Commissions, Discount, Funder, OrderInput, OrderLine, MAX_RATIO_PPM,
};

/// Limits of `xiaodian.settlement.orders` (SPEC §5).
pub const MAX_LINES: usize = 500;
pub const MAX_DISCOUNTS: usize = 50;
pub const MAX_CHAIN: usize = 5;
pub const MAX_UNIT_PRICE_FEN: i64 = 1_000_000_000_000;
pub const MAX_QUANTITY: i64 = 1_000_000;

/// The money bounds of an order (`[settlement] max_line_fen` and `max_order_fen`, passed in
/// by the caller from the configuration): the largest gross (unit price × quantity) of one
/// line and of one whole order, fen. Within them no amount split from an order, nor any of
/// its totals, leaves int64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyBounds {
    pub max_line_fen: i64,
    pub max_order_fen: i64,
}

impl MoneyBounds {
    /// No bound but the fields' own (`MAX_UNIT_PRICE_FEN`, `MAX_QUANTITY`): for checking that
    /// an order is one the split can read, where its money was bounded before (the split's
    /// arithmetic is checked all the same).
    pub const FIELDS_ONLY: MoneyBounds = MoneyBounds {
        max_line_fen: i64::MAX,
        max_order_fen: i64::MAX,
    };
}

/// One order line (`OrderLine`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireLine<'a> {
    pub line_id: &'a [u8],
    pub product_id: &'a [u8],
    pub category_id: &'a [u8],
    pub unit_price_fen: i64,
    pub quantity: i64,
}

/// One discount (`Discount`); `funder` is the `DiscountFunder` number as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireDiscount<'a> {
    pub discount_id: &'a [u8],
    pub funder: i32,
    pub amount_fen: i64,
    pub line_ids: Vec<&'a [u8]>,
}

/// The attributed creator (`CreatorCommission`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireCreator<'a> {
    pub creator_id: &'a [u8],
    pub ratio_ppm: u32,
}

/// One party of an agency chain (`ChainParty`); `kind` is the `PartyKind` number as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireParty<'a> {
    pub kind: i32,
    pub party_id: &'a [u8],
    pub pass_down_ppm: u32,
}

/// An agency chain (`AgencyChain`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireChain<'a> {
    pub service_ratio_ppm: u32,
    pub parties: Vec<WireParty<'a>>,
}

/// An `Order`, its strings borrowed from the encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireOrder<'a> {
    pub order_id: &'a [u8],
    pub shop_id: &'a [u8],
    /// The encoded `paid_at` Timestamp, when present.
    pub paid_at: Option<&'a [u8]>,
    pub lines: Vec<WireLine<'a>>,
    pub discounts: Vec<WireDiscount<'a>>,
    pub has_attribution: bool,
    pub creator: Option<WireCreator<'a>>,
    pub chain: Option<WireChain<'a>>,
    pub guide_id: &'a [u8],
    pub is_gift: bool,
    pub giver_id: &'a [u8],
}

/// One field's value by wire type.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed 32- or 64-bit values: no field of an order has them.
    Fixed,
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.rest = &self.rest[i + 1..];
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    /// The next field (number, value); None at the end; Err on a malformed encoding.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, ()> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint().ok_or(())?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint().ok_or(())?),
            1 => self.take(8).map(|_| Value::Fixed).ok_or(())?,
            2 => {
                let n = usize::try_from(self.varint().ok_or(())?).map_err(|_| ())?;
                Value::Bytes(self.take(n).ok_or(())?)
            }
            5 => self.take(4).map(|_| Value::Fixed).ok_or(())?,
            _ => return Err(()),
        };
        Ok(Some((key >> 3, value)))
    }
}

/// Calls `each(number, value)` for every field of a message; Err on a malformed encoding or
/// when `each` refuses.
fn fields<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(u64, Value<'a>) -> Result<(), ()>,
) -> Result<(), ()> {
    let mut reader = Reader { rest: bytes };
    while let Some((number, value)) = reader.field()? {
        each(number, value)?;
    }
    Ok(())
}

/// A request that carries orders, by its shape in `settlement_service.proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdersRequest {
    /// `RecordOrdersRequest` and `StreamRecordOrdersRequest`: request_id = 1, orders = 2
    /// (1 to `max_orders` of them), named `orders[i]`.
    Batch { max_orders: usize },
    /// `RecordOrderRequest`: request_id = 1, order = 2, named `order`.
    Single,
    /// `PreviewSplitRequest`: order = 1, named `order`; no request_id.
    Preview,
}

impl OrdersRequest {
    fn message_name(self) -> &'static str {
        match self {
            Self::Batch { .. } => "xiaodian.v1.RecordOrdersRequest",
            Self::Single => "xiaodian.v1.RecordOrderRequest",
            Self::Preview => "xiaodian.v1.PreviewSplitRequest",
        }
    }

    /// The field numbers of request_id (None: no such field) and of the order(s).
    fn numbers(self) -> (Option<u64>, u64) {
        match self {
            Self::Batch { .. } | Self::Single => (Some(1), 2),
            Self::Preview => (None, 1),
        }
    }
}

/// The rule of a `google.protobuf.Timestamp`, as `xiaodian.platform.validation.TIMESTAMP_RULE`.
pub const TIMESTAMP_RULE: &str =
    "must be a timestamp from 0001-01-01 to 9999-12-31 (nanos 0-999,999,999)";

/// The orders of a request, checked against every rule of [`WireOrder::violations`]: their
/// encodings (borrowed from the request), ids, shops and payment times, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOrders<'a> {
    /// Empty for a request without one (`PreviewSplitRequest`).
    pub request_id: String,
    pub orders: Vec<&'a [u8]>,
    pub order_ids: Vec<String>,
    pub shop_ids: Vec<String>,
    pub paid_at_us: Vec<i64>,
}

/// Reads and checks a request carrying orders, all in one pass over its bytes: bytes that are
/// not the message (or an order this reader cannot take) are MALFORMED_REQUEST; every broken
/// rule of every order, a batch size out of range and an order_id repeated within the batch
/// are INVALID_ARGUMENT, each violation named by its path in the request.
pub fn read_orders(
    request: &[u8],
    shape: OrdersRequest,
    bounds: MoneyBounds,
) -> Result<ReadOrders<'_>, crate::api_error::ApiError> {
    use crate::api_error::ApiError;
    let malformed = || ApiError::malformed(shape.message_name());
    let (id_number, orders_number) = shape.numbers();
    let mut request_id: &[u8] = b"";
    let mut orders = Vec::new();
    fields(request, |number, value| match value {
        Value::Bytes(b) if Some(number) == id_number => {
            request_id = b;
            Ok(())
        }
        Value::Bytes(b) if number == orders_number => {
            orders.push(b);
            Ok(())
        }
        _ if Some(number) == id_number || number == orders_number => Err(()),
        _ => Ok(()),
    })
    .map_err(|_| malformed())?;
    let request_id = std::str::from_utf8(request_id)
        .map_err(|_| malformed())?
        .to_owned();
    let mut v = Violations::default();
    let field = match shape {
        OrdersRequest::Batch { max_orders } => {
            if !(1..=max_orders).contains(&orders.len()) {
                v.add(
                    "orders".into(),
                    format!("must hold 1-{} items", thousands(max_orders as i128)),
                );
            }
            "orders"
        }
        OrdersRequest::Single | OrdersRequest::Preview => {
            match orders.len() {
                0 => v.add("order".into(), "is required".into()),
                1 => {}
                _ => return Err(malformed()), // a singular field given twice
            }
            "order"
        }
    };
    let mut read = ReadOrders {
        request_id,
        orders: Vec::with_capacity(orders.len()),
        order_ids: Vec::with_capacity(orders.len()),
        shop_ids: Vec::with_capacity(orders.len()),
        paid_at_us: Vec::with_capacity(orders.len()),
    };
    let mut seen: HashMap<&[u8], ()> = HashMap::with_capacity(orders.len());
    for (i, bytes) in orders.into_iter().enumerate() {
        let order = WireOrder::decode(bytes).ok_or_else(malformed)?;
        let at = if field == "orders" {
            format!("orders[{i}]")
        } else {
            "order".to_owned()
        };
        v.0.extend(order.violations(&at, bounds));
        let paid_at_us = order.paid_at.map(|_| order.paid_at_us());
        if paid_at_us == Some(None) {
            v.add(format!("{at}.paid_at"), TIMESTAMP_RULE.into());
        }
        if seen.insert(order.order_id, ()).is_some() {
            v.add(
                format!("{at}.order_id"),
                "must be unique within the batch".into(),
            );
        }
        if v.0.is_empty() {
            // Valid ids are ASCII, and a valid order has a valid paid_at.
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            read.orders.push(bytes);
            read.order_ids.push(text(order.order_id));
            read.shop_ids.push(text(order.shop_id));
            read.paid_at_us
                .push(paid_at_us.flatten().unwrap_or_default());
        }
    }
    if v.0.is_empty() {
        Ok(read)
    } else {
        Err(ApiError::invalid_request(v.0))
    }
}

/// Sets a singular submessage once: a second occurrence (merged by protobuf, never written by
/// `SerializeToString`) is refused.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), ()> {
    if slot.is_some() {
        return Err(());
    }
    *slot = Some(value);
    Ok(())
}

fn line(bytes: &[u8]) -> Result<WireLine<'_>, ()> {
    let mut l = WireLine::default();
    fields(bytes, |number, value| {
        match (number, value) {
            (1, Value::Bytes(b)) => l.line_id = b,
            (2, Value::Bytes(b)) => l.product_id = b,
            (3, Value::Bytes(b)) => l.category_id = b,
            (4, Value::Varint(v)) => l.unit_price_fen = v as i64,
            (5, Value::Varint(v)) => l.quantity = v as i64,
            _ => {}
        }
        Ok(())
    })?;
    Ok(l)
}

fn discount(bytes: &[u8]) -> Result<WireDiscount<'_>, ()> {
    let mut d = WireDiscount::default();
    fields(bytes, |number, value| {
        match (number, value) {
            (1, Value::Bytes(b)) => d.discount_id = b,
            (2, Value::Varint(v)) => d.funder = v as i32,
            (3, Value::Varint(v)) => d.amount_fen = v as i64,
            (4, Value::Bytes(b)) => d.line_ids.push(b),
            _ => {}
        }
        Ok(())
    })?;
    Ok(d)
}

fn creator(bytes: &[u8]) -> Result<WireCreator<'_>, ()> {
    let mut c = WireCreator::default();
    fields(bytes, |number, value| {
        match (number, value) {
            (1, Value::Bytes(b)) => c.creator_id = b,
            (2, Value::Varint(v)) => c.ratio_ppm = v as u32,
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

fn party(bytes: &[u8]) -> Result<WireParty<'_>, ()> {
    let mut p = WireParty::default();
    fields(bytes, |number, value| {
        match (number, value) {
            (1, Value::Varint(v)) => p.kind = v as i32,
            (2, Value::Bytes(b)) => p.party_id = b,
            (3, Value::Varint(v)) => p.pass_down_ppm = v as u32,
            _ => {}
        }
        Ok(())
    })?;
    Ok(p)
}

fn chain(bytes: &[u8]) -> Result<WireChain<'_>, ()> {
    let mut c = WireChain::default();
    fields(bytes, |number, value| {
        match (number, value) {
            (1, Value::Varint(v)) => c.service_ratio_ppm = v as u32,
            (2, Value::Bytes(b)) => c.parties.push(party(b)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

/// The rule of ids, as `xiaodian.platform.validation.ID_RULE` words it.
pub const ID_RULE: &str = "must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'";

/// Violations found so far (formatted only when a rule is broken).
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn add(&mut self, field: String, description: String) {
        self.0.push(FieldViolation { field, description });
    }

    /// A required id (`ID_RULE`).
    fn id(&mut self, field: impl FnOnce() -> String, id: &[u8]) {
        if id.is_empty() {
            self.add(field(), "is required".into());
        } else if !ok_id(id) {
            self.add(field(), ID_RULE.into());
        }
    }
}

/// `n` with a comma between thousands, as Python's `f"{n:,}"`.
fn thousands(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `[A-Za-z0-9_.:-]{1,64}` (SPEC §2), as `xiaodian.platform.validation.ID_PATTERN`.
fn ok_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
}

impl<'a> WireOrder<'a> {
    /// Reads an encoded `Order`; None for an encoding this reader does not take (malformed,
    /// or a singular submessage given twice). Unknown fields, and known numbers with another
    /// wire type, are skipped as protobuf does.
    pub fn decode(bytes: &'a [u8]) -> Option<Self> {
        let mut o = WireOrder::default();
        let mut attribution = None;
        fields(bytes, |number, value| {
            match (number, value) {
                (1, Value::Bytes(b)) => o.order_id = b,
                (2, Value::Bytes(b)) => o.shop_id = b,
                (3, Value::Bytes(b)) => once(&mut o.paid_at, b)?,
                (4, Value::Bytes(b)) => o.lines.push(line(b)?),
                (5, Value::Bytes(b)) => o.discounts.push(discount(b)?),
                (6, Value::Bytes(b)) => once(&mut attribution, b)?,
                (7, Value::Bytes(b)) => o.guide_id = b,
                (8, Value::Varint(v)) => o.is_gift = v != 0,
                (9, Value::Bytes(b)) => o.giver_id = b,
                _ => {}
            }
            Ok(())
        })
        .ok()?;
        if let Some(bytes) = attribution {
            o.has_attribution = true;
            let (mut c, mut ch) = (None, None);
            fields(bytes, |number, value| {
                match (number, value) {
                    (1, Value::Bytes(b)) => once(&mut c, creator(b)?)?,
                    (2, Value::Bytes(b)) => once(&mut ch, chain(b)?)?,
                    _ => {}
                }
                Ok(())
            })
            .ok()?;
            (o.creator, o.chain) = (c, ch);
        }
        Some(o)
    }

    /// Whether the order breaks none of the rules of [`WireOrder::violations`].
    pub fn is_valid(&self, bounds: MoneyBounds) -> bool {
        self.violations("", bounds).is_empty()
    }

    /// Every rule of SPEC §5 the order breaks that can be checked without the split (the
    /// split itself refuses a discount larger than its lines' payable total and a line whose
    /// fee and commissions exceed its gmv), with the money bounds: a line whose gross (unit
    /// price × quantity) is above `bounds.max_line_fen` is named `{at}.lines[i]`, an order
    /// whose gross is above `bounds.max_order_fen` `{at}.lines`. Field paths and messages are
    /// only formatted for a broken rule, so a valid order costs no allocation. The one place
    /// of these rules.
    pub fn violations(&self, at: &str, bounds: MoneyBounds) -> Vec<FieldViolation> {
        let mut v = Violations::default();
        v.id(|| format!("{at}.order_id"), self.order_id);
        v.id(|| format!("{at}.shop_id"), self.shop_id);
        if self.paid_at.is_none() {
            v.add(format!("{at}.paid_at"), "is required".into());
        }
        if !(1..=MAX_LINES).contains(&self.lines.len()) {
            v.add(
                format!("{at}.lines"),
                format!("must hold 1-{MAX_LINES} lines"),
            );
        }
        // Each gross is at most MAX_UNIT_PRICE_FEN × MAX_QUANTITY = 10¹⁸; their sum over
        // MAX_LINES lines is kept in 128 bits.
        let mut order_gross = 0i128;
        for (i, l) in self.lines.iter().enumerate() {
            if !ok_id(l.line_id) {
                v.id(|| format!("{at}.lines[{i}].line_id"), l.line_id);
            } else if self.lines[..i].iter().any(|o| o.line_id == l.line_id) {
                v.add(
                    format!("{at}.lines[{i}].line_id"),
                    "must be unique within the order".into(),
                );
            }
            v.id(|| format!("{at}.lines[{i}].product_id"), l.product_id);
            v.id(|| format!("{at}.lines[{i}].category_id"), l.category_id);
            let price_ok = (0..=MAX_UNIT_PRICE_FEN).contains(&l.unit_price_fen);
            if !price_ok {
                v.add(
                    format!("{at}.lines[{i}].unit_price_fen"),
                    format!("must be 0-{} fen", thousands(MAX_UNIT_PRICE_FEN.into())),
                );
            }
            let quantity_ok = (1..=MAX_QUANTITY).contains(&l.quantity);
            if !quantity_ok {
                v.add(
                    format!("{at}.lines[{i}].quantity"),
                    format!("must be 1-{}", thousands(MAX_QUANTITY.into())),
                );
            }
            if price_ok && quantity_ok {
                let gross = l.unit_price_fen * l.quantity;
                if gross > bounds.max_line_fen {
                    v.add(
                        format!("{at}.lines[{i}]"),
                        format!(
                            "unit_price_fen x quantity is {} fen; a line's gross must be at most {} fen (max_line_fen)",
                            thousands(gross.into()),
                            thousands(bounds.max_line_fen.into())
                        ),
                    );
                }
                order_gross += i128::from(gross);
            }
        }
        if order_gross > i128::from(bounds.max_order_fen) {
            v.add(
                format!("{at}.lines"),
                format!(
                    "the lines' gross adds up to {} fen; an order's must be at most {} fen (max_order_fen)",
                    thousands(order_gross),
                    thousands(bounds.max_order_fen.into())
                ),
            );
        }
        if self.discounts.len() > MAX_DISCOUNTS {
            v.add(
                format!("{at}.discounts"),
                format!("must hold at most {MAX_DISCOUNTS} discounts"),
            );
        }
        for (d, discount) in self.discounts.iter().enumerate() {
            let here = |field: &str| format!("{at}.discounts[{d}].{field}");
            if !ok_id(discount.discount_id) {
                v.id(|| here("discount_id"), discount.discount_id);
            } else if self.discounts[..d]
                .iter()
                .any(|o| o.discount_id == discount.discount_id)
            {
                v.add(
                    here("discount_id"),
                    "must be unique within the order".into(),
                );
            }
            match discount.funder {
                1 | 3 | 4 => {}
                2 if self.creator.is_some() => {}
                2 => v.add(
                    here("funder"),
                    "a CREATOR-funded discount needs attribution.creator (its funder)".into(),
                ),
                _ => v.add(
                    here("funder"),
                    "must be MERCHANT, CREATOR, PLATFORM or GOVERNMENT".into(),
                ),
            }
            if discount.amount_fen <= 0 {
                v.add(here("amount_fen"), "must be > 0".into());
            }
            let ids = &discount.line_ids;
            if ids.iter().enumerate().any(|(j, id)| ids[..j].contains(id)) {
                v.add(here("line_ids"), "must not repeat a line".into());
            }
            for id in ids {
                if !self.lines.iter().any(|l| l.line_id == *id) {
                    v.add(
                        here("line_ids"),
                        format!(
                            "names no line of the order: '{}'",
                            String::from_utf8_lossy(id)
                        ),
                    );
                }
            }
        }
        if let Some(c) = &self.creator {
            v.id(
                || format!("{at}.attribution.creator.creator_id"),
                c.creator_id,
            );
            if c.ratio_ppm > MAX_RATIO_PPM {
                v.add(
                    format!("{at}.attribution.creator.ratio_ppm"),
                    format!("must be at most {}", thousands(MAX_RATIO_PPM.into())),
                );
            }
        }
        if let Some(chain) = &self.chain {
            let at = format!("{at}.attribution.agency_chain");
            if chain.service_ratio_ppm > MAX_RATIO_PPM {
                v.add(
                    format!("{at}.service_ratio_ppm"),
                    format!("must be at most {}", thousands(MAX_RATIO_PPM.into())),
                );
            }
            if !(1..=MAX_CHAIN).contains(&chain.parties.len()) {
                v.add(
                    format!("{at}.parties"),
                    format!("must hold 1-{MAX_CHAIN} parties"),
                );
            }
            for (p, party) in chain.parties.iter().enumerate() {
                if !(1..=5).contains(&party.kind) {
                    v.add(format!("{at}.parties[{p}].kind"), "is required".into());
                }
                v.id(|| format!("{at}.parties[{p}].party_id"), party.party_id);
                if party.pass_down_ppm > MAX_RATIO_PPM {
                    v.add(
                        format!("{at}.parties[{p}].pass_down_ppm"),
                        format!("must be at most {}", thousands(MAX_RATIO_PPM.into())),
                    );
                }
            }
            if chain.parties.last().is_some_and(|p| p.pass_down_ppm != 0) {
                v.add(
                    format!("{at}.parties[{}].pass_down_ppm", chain.parties.len() - 1),
                    "must be 0 for the last party (it keeps all it receives)".into(),
                );
            }
        }
        if !self.guide_id.is_empty() {
            v.id(|| format!("{at}.guide_id"), self.guide_id);
        }
        if self.is_gift {
            v.id(|| format!("{at}.giver_id"), self.giver_id);
        } else if !self.giver_id.is_empty() {
            v.add(
                format!("{at}.giver_id"),
                "must be empty unless is_gift".into(),
            );
        }
        v.0
    }

    /// The split's input for a valid order (see [`WireOrder::is_valid`]): its shop's position
    /// `shop` in the batch's allowances, each line's fee rate by its category (`rates`, else
    /// `default_rate_ppm`), each discount's lines as positions, the commission terms.
    pub fn order_input(
        &self,
        shop: usize,
        rates: &HashMap<Vec<u8>, u32>,
        default_rate_ppm: u32,
    ) -> OrderInput {
        let lines = self
            .lines
            .iter()
            .map(|l| OrderLine {
                unit_price_fen: l.unit_price_fen,
                quantity: l.quantity,
                category_fee_ppm: rates
                    .get(l.category_id)
                    .copied()
                    .unwrap_or(default_rate_ppm),
            })
            .collect();
        let position = |id: &[u8]| self.lines.iter().position(|l| l.line_id == id);
        let discounts = self
            .discounts
            .iter()
            .map(|d| Discount {
                funder: match d.funder {
                    2 => Funder::Creator,
                    3 => Funder::Platform,
                    4 => Funder::Government,
                    _ => Funder::Merchant,
                },
                amount_fen: d.amount_fen,
                lines: d.line_ids.iter().filter_map(|&id| position(id)).collect(),
            })
            .collect();
        let chain = self.chain.as_ref();
        OrderInput {
            shop,
            lines,
            discounts,
            terms: Commissions {
                creator_ppm: self.creator.as_ref().map_or(0, |c| c.ratio_ppm),
                service_ppm: chain.map_or(0, |c| c.service_ratio_ppm),
                chain: chain
                    .map(|c| {
                        c.parties
                            .iter()
                            .map(|p| ChainLink {
                                pass_down_ppm: p.pass_down_ppm,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An integer field; 0, the default, is not written (as protobuf does).
fn put_int(out: &mut Vec<u8>, number: u64, v: i64) {
    if v != 0 {
        put_varint(out, number << 3);
        put_varint(out, v as u64);
    }
}

/// A string field; "", the default, is not written.
fn put_str(out: &mut Vec<u8>, number: u64, s: &[u8]) {
    if !s.is_empty() {
        put_message(out, number, s);
    }
}

/// A length-delimited field, written even when empty (a present submessage).
fn put_message(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    put_varint(out, number << 3 | 2);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// The sum of `parts`, None if it leaves int64.
pub fn checked_sum(parts: impl IntoIterator<Item = i64>) -> Option<i64> {
    parts.into_iter().try_fold(0i64, i64::checked_add)
}

/// `ORDER_STATE_PAID`, the state of a recorded order.
pub const ORDER_STATE_PAID: i64 = 1;

impl WireOrder<'_> {
    /// The encoded `RecordOrderResponse` of this order recorded with the packed split `words`
    /// (`PackedSplits::split`): its id, its `OrderSplit`, state PAID — what
    /// `xiaodian.reference.orders.record_response` builds in Python. None when the split is
    /// not this order's (other line, discount or chain counts) or a total leaves int64.
    pub fn record_response(&self, words: &[i64]) -> Option<Vec<u8>> {
        let (n, d) = (self.lines.len(), self.discounts.len());
        let parties = self.chain.as_ref().map_or(&[][..], |c| &c.parties[..]);
        let c = parties.len();
        let header = [n as i64, d as i64, c as i64];
        let width = xiaodian_core::settle::PACKED_LINE_WORDS + d + c;
        if n == 0
            || words.len() != xiaodian_core::settle::PACKED_HEADER_WORDS + n * width
            || words[..xiaodian_core::settle::PACKED_HEADER_WORDS] != header
        {
            return None;
        }
        let mut split = Vec::with_capacity(64 * n);
        let (mut line, mut share, mut party) = (Vec::new(), Vec::new(), Vec::new());
        let mut totals = [0i64; 6];
        for (l, w) in self
            .lines
            .iter()
            .zip(words[xiaodian_core::settle::PACKED_HEADER_WORDS..].chunks_exact(width))
        {
            let [gross, paid, s0, s1, s2, base, fee, creator, merchant] =
                <[i64; 9]>::try_from(&w[..xiaodian_core::settle::PACKED_LINE_WORDS]).ok()?;
            let kept = &w[xiaodian_core::settle::PACKED_LINE_WORDS + d..];
            let agency = checked_sum(kept.iter().copied())?;
            let gmv = checked_sum([paid, s0, s1, s2])?;
            line.clear();
            put_str(&mut line, 1, l.line_id);
            put_int(&mut line, 2, gross);
            for (discount, &amount) in self.discounts.iter().zip(
                &w[xiaodian_core::settle::PACKED_LINE_WORDS
                    ..xiaodian_core::settle::PACKED_LINE_WORDS + d],
            ) {
                if discount.line_ids.is_empty() || discount.line_ids.contains(&l.line_id) {
                    share.clear();
                    put_str(&mut share, 1, discount.discount_id);
                    put_int(&mut share, 2, i64::from(discount.funder));
                    put_int(&mut share, 3, amount);
                    put_message(&mut line, 3, &share);
                }
            }
            put_int(&mut line, 4, paid);
            put_int(&mut line, 5, s0);
            put_int(&mut line, 6, s1);
            put_int(&mut line, 7, s2);
            put_int(&mut line, 8, gmv);
            put_int(&mut line, 9, base);
            put_int(&mut line, 10, fee);
            put_int(&mut line, 11, creator);
            put_int(&mut line, 12, agency);
            let mut received = agency;
            for (p, &keeps) in parties.iter().zip(kept) {
                party.clear();
                put_int(&mut party, 1, i64::from(p.kind));
                put_str(&mut party, 2, p.party_id);
                put_int(&mut party, 3, received);
                put_int(&mut party, 4, received - keeps);
                put_int(&mut party, 5, keeps);
                put_message(&mut line, 13, &party);
                received -= keeps;
            }
            put_int(&mut line, 14, merchant);
            put_message(&mut split, 1, &line);
            for (total, part) in
                totals
                    .iter_mut()
                    .zip([paid, gmv - paid, fee, creator, agency, merchant])
            {
                *total = total.checked_add(part)?;
            }
        }
        for (number, total) in (2..).zip(totals) {
            put_int(&mut split, number, total);
        }
        let mut response = Vec::with_capacity(split.len() + self.order_id.len() + 8);
        put_str(&mut response, 1, self.order_id);
        put_message(&mut response, 2, &split);
        put_int(&mut response, 3, ORDER_STATE_PAID);
        Some(response)
    }
}

/// Ledger accounts and transfer codes of `xiaodian.settlement.orders` and `xiaodian.v1`.
const BUYER_FUNDS: &str = "buyer_funds";
const ESCROW: &str = "escrow";
const PLATFORM_FEE: &str = "platform:fee";
const SUBSIDY_ACCOUNTS: [&str; 2] = ["platform:subsidy", "government:subsidy"];
const PARTY_KINDS: [&str; 5] = [
    "AGENCY",
    "SUB_AGENCY",
    "CREATOR",
    "PROMOTER_AGENCY",
    "PROMOTER",
];
const TRANSFER_CODE_PAYMENT: i64 = 1;
const TRANSFER_CODE_SUBSIDY: i64 = 2;

/// A payment or subsidy transfer of an order being recorded: its `ledger_transfers` row less
/// what it shares with the order (order_id, booked at `paid_at_us`, no refund_id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTransfer {
    pub transfer_id: String,
    pub debit: String,
    pub credit: String,
    /// Always > 0.
    pub amount_fen: i64,
    pub code: i64,
}

/// What recording one order writes in its `settlement_orders` row besides its encoding,
/// digest and split (`xiaodian.reference.orders.recording_rows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOrder<'a> {
    pub order_id: &'a str,
    pub shop_id: &'a str,
    pub paid_at_us: i64,
    /// `guide_id`, empty when none (stored as NULL).
    pub guide_id: &'a str,
    /// What the buyer paid (the split's total `paid`).
    pub paid_fen: i64,
    /// How many lines the order has (its `line_refunds_json` is `no_refunds_json(line_count)`).
    pub line_count: usize,
    /// What each party receives when the order settles, one entry per account (merchant,
    /// platform fee, creator if attributed, each chain party), in that order.
    pub payouts: Vec<(String, i64)>,
    /// `payouts` as `payouts_json`: `{"merchant:s1":900,"platform:fee":100}`.
    pub payouts_json: String,
    /// The payment transfer (buyer_funds → escrow) and the subsidy transfers (each funder →
    /// escrow), zero amounts left out.
    pub transfers: Vec<RecordedTransfer>,
}

/// `json.dumps(payouts, separators=(",", ":"))` of account names made of printable ASCII
/// without quotes or backslashes (every account name the service accepts); None otherwise.
fn payouts_json(payouts: &[(String, i64)]) -> Option<String> {
    let mut out = String::with_capacity(2 + payouts.len() * 32);
    out.push('{');
    for (i, (account, amount)) in payouts.iter().enumerate() {
        if !account
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            return None;
        }
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(account);
        out.push_str("\":");
        // Writing to a String cannot fail.
        let _ = write!(out, "{amount}");
    }
    out.push('}');
    Some(out)
}

/// `line_refunds_json` of an order of `line_count` lines nothing of which is refunded: `[0, 0]`
/// for two lines (as Python's `json.dumps` writes it).
pub fn no_refunds_json(line_count: usize) -> String {
    let mut json = String::with_capacity(2 + 3 * line_count);
    json.push('[');
    for i in 0..line_count {
        json.push_str(if i == 0 { "0" } else { ", 0" });
    }
    json.push(']');
    json
}

impl<'a> WireOrder<'a> {
    /// `paid_at` in microseconds (`Timestamp.ToMicroseconds`: seconds × 10⁶ + ⌊nanos / 1,000⌋);
    /// None when absent, unreadable, or not a valid Timestamp (years 1-9999, nanos in
    /// [0, 10⁹)), which `ToMicroseconds` refuses.
    pub fn paid_at_us(&self) -> Option<i64> {
        let (mut seconds, mut nanos) = (0i64, 0i32);
        fields(self.paid_at?, |number, value| {
            match (number, value) {
                (1, Value::Varint(v)) => seconds = v as i64,
                (2, Value::Varint(v)) => nanos = v as i32,
                _ => {}
            }
            Ok(())
        })
        .ok()?;
        if !(-62_135_596_800..=253_402_300_799).contains(&seconds)
            || !(0..1_000_000_000).contains(&nanos)
        {
            return None;
        }
        Some(seconds * 1_000_000 + i64::from(nanos / 1_000))
    }

    /// What recording this order with the packed split `words` writes, as
    /// `xiaodian.reference.orders.recording_rows` builds it: the order row's facts (with its
    /// payouts: merchant, platform fee, creator if attributed, each chain party; one entry per
    /// account), and its payment and subsidy transfers into escrow.
    /// None when a string is not UTF-8 or an account name not plain ASCII, `paid_at` is not
    /// readable, the split is not this order's, or a sum leaves int64.
    pub fn recording_rows(&self, words: &[i64]) -> Option<RecordedOrder<'a>> {
        let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
        let order_id = text(self.order_id)?;
        let paid_at_us = self.paid_at_us()?;
        let parties = self.chain.as_ref().map_or(&[][..], |c| &c.parties[..]);
        let (n, d, c) = (self.lines.len(), self.discounts.len(), parties.len());
        let width = xiaodian_core::settle::PACKED_LINE_WORDS + d + c;
        if n == 0
            || words.len() != xiaodian_core::settle::PACKED_HEADER_WORDS + n * width
            || words[..xiaodian_core::settle::PACKED_HEADER_WORDS] != [n as i64, d as i64, c as i64]
        {
            return None;
        }
        // Per packed line: paid (1), subsidies (2-4), fee (6), creator commission (7),
        // merchant (8); then the chain's kept amounts.
        let mut sums = [0i64; xiaodian_core::settle::PACKED_LINE_WORDS];
        let mut kept = vec![0i64; c];
        for w in words[xiaodian_core::settle::PACKED_HEADER_WORDS..].chunks_exact(width) {
            for k in [1, 2, 3, 4, 6, 7, 8] {
                sums[k] = sums[k].checked_add(w[k])?;
            }
            for (total, &part) in kept
                .iter_mut()
                .zip(&w[xiaodian_core::settle::PACKED_LINE_WORDS + d..])
            {
                *total = total.checked_add(part)?;
            }
        }
        let [_, paid, creator_subsidy, platform_subsidy, government_subsidy, _, fee, creator_commission, merchant] =
            sums;
        let creator = match &self.creator {
            Some(c) => ["creator:", text(c.creator_id)?].concat(),
            None => String::new(),
        };
        let mut payouts: Vec<(String, i64)> = Vec::with_capacity(3 + c);
        let mut owe = |account: String, amount: i64| -> Option<()> {
            match payouts.iter_mut().find(|row| row.0 == account) {
                Some(row) => row.1 = row.1.checked_add(amount)?,
                None => payouts.push((account, amount)),
            }
            Some(())
        };
        let shop_id = text(self.shop_id)?;
        owe(["merchant:", shop_id].concat(), merchant)?;
        owe(PLATFORM_FEE.to_owned(), fee)?;
        if !creator.is_empty() {
            owe(creator.clone(), creator_commission)?;
        }
        for (p, &keeps) in parties.iter().zip(&kept) {
            let kind = PARTY_KINDS.get(usize::try_from(p.kind).ok()?.checked_sub(1)?)?;
            owe(["party:", kind, ":", text(p.party_id)?].concat(), keeps)?;
        }
        let mut transfers = Vec::with_capacity(4);
        let mut transfer =
            |transfer_id: String, source: &str, target: &str, amount: i64, code: i64| {
                let (debit, credit) = if amount < 0 {
                    (target, source)
                } else {
                    (source, target)
                };
                if amount != 0 {
                    transfers.push(RecordedTransfer {
                        transfer_id,
                        debit: debit.to_owned(),
                        credit: credit.to_owned(),
                        amount_fen: amount.abs(),
                        code,
                    });
                }
            };
        transfer(
            [order_id, "/payment"].concat(),
            BUYER_FUNDS,
            ESCROW,
            paid,
            TRANSFER_CODE_PAYMENT,
        );
        for (account, amount) in [&creator[..], SUBSIDY_ACCOUNTS[0], SUBSIDY_ACCOUNTS[1]]
            .into_iter()
            .zip([creator_subsidy, platform_subsidy, government_subsidy])
        {
            transfer(
                [order_id, "/subsidy/", account].concat(),
                account,
                ESCROW,
                amount,
                TRANSFER_CODE_SUBSIDY,
            );
        }
        let recorded = RecordedOrder {
            order_id,
            shop_id,
            paid_at_us,
            guide_id: text(self.guide_id)?,
            paid_fen: paid,
            line_count: n,
            payouts_json: payouts_json(&payouts)?,
            payouts,
            transfers,
        };
        Some(recorded)
    }
}

/// The encoded `RecordOrdersResponse` of orders (encoded) recorded with their packed splits;
/// None if an order cannot be read or a split is not its order's.
pub fn record_responses<'a>(
    orders: impl IntoIterator<Item = (&'a [u8], &'a [i64])>,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for (bytes, words) in orders {
        let response = WireOrder::decode(bytes)?.record_response(words)?;
        put_message(&mut out, 1, &response);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-encoded order: `Order { order_id: "o1", shop_id: "s1", paid_at {seconds: 1},
    /// lines [{l1, p1, c1, 500, 2}, {l2, p2, c2, 300, 1}], discounts [{d1, PLATFORM, 100,
    /// [l2]}], attribution { creator {k1, 50,000}, agency_chain {100,000, [{AGENCY, a1,
    /// 0}]} }, an unknown field 99 }`.
    fn encoded() -> Vec<u8> {
        fn len(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
            out.extend([number << 3 | 2, bytes.len() as u8]);
            out.extend(bytes);
        }
        fn varint(out: &mut Vec<u8>, number: u8, mut v: u64) {
            out.push(number << 3);
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let line = |id: &[u8], p: &[u8], c: &[u8], price, qty| {
            let mut l = Vec::new();
            len(&mut l, 1, id);
            len(&mut l, 2, p);
            len(&mut l, 3, c);
            varint(&mut l, 4, price);
            varint(&mut l, 5, qty);
            l
        };
        let mut o = Vec::new();
        len(&mut o, 1, b"o1");
        len(&mut o, 2, b"s1");
        len(&mut o, 3, &[8, 1]);
        len(&mut o, 4, &line(b"l1", b"p1", b"c1", 500, 2));
        len(&mut o, 4, &line(b"l2", b"p2", b"c2", 300, 1));
        let mut d = Vec::new();
        len(&mut d, 1, b"d1");
        varint(&mut d, 2, 3);
        varint(&mut d, 3, 100);
        len(&mut d, 4, b"l2");
        len(&mut o, 5, &d);
        let mut creator = Vec::new();
        len(&mut creator, 1, b"k1");
        varint(&mut creator, 2, 50_000);
        let mut party = Vec::new();
        varint(&mut party, 1, 1);
        len(&mut party, 2, b"a1");
        let mut chain = Vec::new();
        varint(&mut chain, 1, 100_000);
        len(&mut chain, 2, &party);
        let mut attribution = Vec::new();
        len(&mut attribution, 1, &creator);
        len(&mut attribution, 2, &chain);
        len(&mut o, 6, &attribution);
        o.extend([0x98, 0x06, 0x01]); // field 99, varint 1
        o
    }

    #[test]
    fn reads_an_order_and_its_split_input() {
        let bytes = encoded();
        let order = WireOrder::decode(&bytes).unwrap();
        assert!(order.is_valid(MoneyBounds::FIELDS_ONLY));
        assert_eq!(order.lines[1].unit_price_fen, 300);
        assert_eq!(order.discounts[0].line_ids, [b"l2"]);
        let rates = HashMap::from([(b"c2".to_vec(), 20_000)]);
        let input = order.order_input(3, &rates, 50_000);
        assert_eq!(input.shop, 3);
        assert_eq!(
            input
                .lines
                .iter()
                .map(|l| l.category_fee_ppm)
                .collect::<Vec<_>>(),
            [50_000, 20_000]
        );
        assert_eq!(input.discounts[0].lines, [1]);
        assert_eq!(input.discounts[0].funder, Funder::Platform);
        assert_eq!(
            (input.terms.creator_ppm, input.terms.service_ppm),
            (50_000, 100_000)
        );
        assert_eq!(input.terms.chain, [ChainLink { pass_down_ppm: 0 }]);
    }

    #[test]
    fn the_money_bounds_are_inclusive() {
        // Lines of 500 × 2 = 1,000 and 300 × 1 = 300 fen: 1,300 fen in all.
        let bytes = encoded();
        let order = WireOrder::decode(&bytes).unwrap();
        let bounds = |max_line_fen, max_order_fen| MoneyBounds {
            max_line_fen,
            max_order_fen,
        };
        assert!(order.is_valid(bounds(1_000, 1_300)));
        assert!(!order.is_valid(bounds(999, 1_300)));
        assert!(!order.is_valid(bounds(1_000, 1_299)));
        let mut huge = order.clone();
        for l in &mut huge.lines {
            (l.unit_price_fen, l.quantity) = (MAX_UNIT_PRICE_FEN, MAX_QUANTITY);
        }
        assert!(huge.is_valid(MoneyBounds::FIELDS_ONLY));
        assert!(!huge.is_valid(bounds(i64::MAX, 10i64.pow(18))));
    }

    #[test]
    fn sums_that_leave_int64_are_none() {
        assert_eq!(checked_sum([i64::MAX - 1, 1]), Some(i64::MAX));
        assert_eq!(checked_sum([i64::MAX, 1]), None);
        assert_eq!(checked_sum([i64::MIN, -1]), None);
    }

    #[test]
    fn refuses_broken_rules_and_encodings() {
        let bytes = encoded();
        let order = WireOrder::decode(&bytes).unwrap();
        let mut no_line = order.clone();
        no_line.discounts[0].line_ids = vec![b"l9"];
        assert!(!no_line.is_valid(MoneyBounds::FIELDS_ONLY));
        let mut repeated = order.clone();
        repeated.lines[1].line_id = b"l1";
        assert!(!repeated.is_valid(MoneyBounds::FIELDS_ONLY));
        let mut gift = order.clone();
        gift.is_gift = true;
        assert!(!gift.is_valid(MoneyBounds::FIELDS_ONLY));
        gift.giver_id = b"buyer-1";
        assert!(gift.is_valid(MoneyBounds::FIELDS_ONLY));
        let mut creator_funded = order.clone();
        creator_funded.discounts[0].funder = 2;
        assert!(creator_funded.is_valid(MoneyBounds::FIELDS_ONLY));
        creator_funded.creator = None;
        assert!(!creator_funded.is_valid(MoneyBounds::FIELDS_ONLY));
        assert!(WireOrder::decode(&bytes[..bytes.len() - 1]).is_none());
        let twice = [&bytes[..], &[0x1a, 0x00]].concat(); // paid_at again
        assert!(WireOrder::decode(&twice).is_none());
    }
}
