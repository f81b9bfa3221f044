//! Orders as the service receives them: a `xiaodian.v1.Order` read straight from its protobuf
//! encoding, checked against the rules of SPEC §5, and turned into the split's [`OrderInput`].
//!
//! This is the recording path's fast lane. The rules and their messages are defined by
//! `xiaodian.settlement.orders.validate_order` (Python); [`WireOrder::is_valid`] only answers
//! whether an order breaks none of them, and a test holds the two to the same answer. The
//! service falls back to the Python path for the messages, and for any encoding this reader
//! does not take (it reads what `SerializeToString` writes: each singular field at most once).

use std::collections::HashMap;

use super::{ChainLink, Commissions, Discount, Funder, OrderInput, OrderLine, MAX_RATIO_PPM};

/// Limits of `xiaodian.settlement.orders` (SPEC §5).
pub const MAX_LINES: usize = 500;
pub const MAX_DISCOUNTS: usize = 50;
pub const MAX_CHAIN: usize = 5;
pub const MAX_UNIT_PRICE_FEN: i64 = 1_000_000_000_000;
pub const MAX_QUANTITY: i64 = 1_000_000;

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
    pub has_paid_at: bool,
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
        let (mut paid_at, mut attribution) = (None, None);
        fields(bytes, |number, value| {
            match (number, value) {
                (1, Value::Bytes(b)) => o.order_id = b,
                (2, Value::Bytes(b)) => o.shop_id = b,
                (3, Value::Bytes(b)) => once(&mut paid_at, b)?,
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
        o.has_paid_at = paid_at.is_some();
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

    /// Whether the order breaks none of the rules of `validate_order` (SPEC §5).
    pub fn is_valid(&self) -> bool {
        if !(ok_id(self.order_id) && ok_id(self.shop_id) && self.has_paid_at) {
            return false;
        }
        if !(1..=MAX_LINES).contains(&self.lines.len()) || self.discounts.len() > MAX_DISCOUNTS {
            return false;
        }
        let line_ok = |(i, l): (usize, &WireLine)| {
            ok_id(l.line_id)
                && ok_id(l.product_id)
                && ok_id(l.category_id)
                && (0..=MAX_UNIT_PRICE_FEN).contains(&l.unit_price_fen)
                && (1..=MAX_QUANTITY).contains(&l.quantity)
                && !self.lines[..i].iter().any(|o| o.line_id == l.line_id)
        };
        if !self.lines.iter().enumerate().all(line_ok) {
            return false;
        }
        for (k, d) in self.discounts.iter().enumerate() {
            let funder_ok = match d.funder {
                1 | 3 | 4 => true,
                2 => self.creator.is_some(),
                _ => false,
            };
            if !ok_id(d.discount_id)
                || self.discounts[..k]
                    .iter()
                    .any(|o| o.discount_id == d.discount_id)
                || !funder_ok
                || d.amount_fen <= 0
            {
                return false;
            }
            for (j, id) in d.line_ids.iter().enumerate() {
                if d.line_ids[..j].contains(id) || !self.lines.iter().any(|l| l.line_id == *id) {
                    return false;
                }
            }
        }
        if let Some(c) = &self.creator {
            if !ok_id(c.creator_id) || c.ratio_ppm > MAX_RATIO_PPM {
                return false;
            }
        }
        if let Some(chain) = &self.chain {
            if chain.service_ratio_ppm > MAX_RATIO_PPM
                || !(1..=MAX_CHAIN).contains(&chain.parties.len())
                || chain.parties.last().is_some_and(|p| p.pass_down_ppm != 0)
            {
                return false;
            }
            for p in &chain.parties {
                if !(1..=5).contains(&p.kind)
                    || !ok_id(p.party_id)
                    || p.pass_down_ppm > MAX_RATIO_PPM
                {
                    return false;
                }
            }
        }
        if !self.guide_id.is_empty() && !ok_id(self.guide_id) {
            return false;
        }
        if self.is_gift {
            ok_id(self.giver_id)
        } else {
            self.giver_id.is_empty()
        }
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
        assert!(order.is_valid());
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
    fn refuses_broken_rules_and_encodings() {
        let bytes = encoded();
        let order = WireOrder::decode(&bytes).unwrap();
        let mut no_line = order.clone();
        no_line.discounts[0].line_ids = vec![b"l9"];
        assert!(!no_line.is_valid());
        let mut repeated = order.clone();
        repeated.lines[1].line_id = b"l1";
        assert!(!repeated.is_valid());
        let mut gift = order.clone();
        gift.is_gift = true;
        assert!(!gift.is_valid());
        gift.giver_id = b"buyer-1";
        assert!(gift.is_valid());
        let mut creator_funded = order.clone();
        creator_funded.discounts[0].funder = 2;
        assert!(creator_funded.is_valid());
        creator_funded.creator = None;
        assert!(!creator_funded.is_valid());
        assert!(WireOrder::decode(&bytes[..bytes.len() - 1]).is_none());
        let twice = [&bytes[..], &[0x1a, 0x00]].concat(); // paid_at again
        assert!(WireOrder::decode(&twice).is_none());
    }
}
