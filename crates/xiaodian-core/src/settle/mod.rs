//! Commission settlement: the exact split of an order line among the merchant, the platform,
//! subsidy funders, the creator and an agency chain (SPEC §5). Pure integer arithmetic, every
//! operation checked: an amount that would overflow is an error, never a wrapped number.
//!
//! Rounding is half up to the fen: `round_half_up(a / b) = (2a + b) div 2b` for a ≥ 0, b > 0.
//! Per line, exactly: `paid + subsidy = merchant + fee + creator + Σ chain kept`.

use crate::error::{CoreError, CoreResult, FieldViolation};

/// Parts per million in one whole.
pub const PPM: i64 = 1_000_000;
/// Largest accepted commission or pass-down ratio: 90 %.
pub const MAX_RATIO_PPM: u32 = 900_000;

fn overflow(what: &str) -> CoreError {
    CoreError::Overflow(what.to_owned())
}

fn invalid(field: impl Into<String>, description: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(vec![FieldViolation::new(field, description)])
}

/// `round_half_up(a / b)` for `a >= 0`, `b > 0`: in 64 bits when `2a + b` fits (the common
/// case, and a hardware division), else in 128 bits; the same quotient either way.
pub fn round_half_up(a: i128, b: i128) -> CoreResult<i64> {
    debug_assert!(a >= 0 && b > 0);
    if let (Ok(a), Ok(b)) = (i64::try_from(a), i64::try_from(b)) {
        if let Some(quotient) = round_half_up_64(a, b) {
            return Ok(quotient);
        }
    }
    let twice = a
        .checked_mul(2)
        .and_then(|x| x.checked_add(b))
        .ok_or_else(|| overflow("rounding"))?;
    let quotient = twice / b.checked_mul(2).ok_or_else(|| overflow("rounding"))?;
    i64::try_from(quotient).map_err(|_| overflow("rounded amount"))
}

/// `(2a + b) div 2b` in 64 bits, or None when an intermediate would not fit.
#[inline]
fn round_half_up_64(a: i64, b: i64) -> Option<i64> {
    let twice = a.checked_mul(2)?.checked_add(b)?;
    Some(twice / b.checked_mul(2)?)
}

/// `numerator / 1,000,000` rounded half up, for `numerator >= 0`: `(2n + 10⁶) div 2·10⁶ =
/// (n + 500,000) div 10⁶`, a division by a constant when `n + 500,000` fits in 64 bits.
#[inline]
fn round_ppm(numerator: Option<i64>, wide: impl FnOnce() -> i128) -> CoreResult<i64> {
    match numerator.and_then(|n| n.checked_add(PPM / 2)) {
        Some(n) if n >= PPM / 2 => Ok(n / PPM),
        _ => round_half_up(wide(), i128::from(PPM)),
    }
}

/// `amount × ratio_ppm / 1,000,000`, rounded half up to the fen.
#[inline]
pub fn apply_ppm(amount_fen: i64, ratio_ppm: u32) -> CoreResult<i64> {
    round_ppm(amount_fen.checked_mul(i64::from(ratio_ppm)), || {
        i128::from(amount_fen) * i128::from(ratio_ppm)
    })
}

/// Splits `amount` over `weights` by the largest-remainder method: share i is
/// ⌊amount·wᵢ/W⌋, and the leftover fen go one each to the largest remainders
/// (amount·wᵢ mod W), ties to the larger weight, then to the earlier position.
/// Fails when `amount` exceeds W (the discount is larger than what it applies to).
pub fn apportion(amount: i64, weights: &[i64]) -> CoreResult<Vec<i64>> {
    let mut shares = vec![0; weights.len()];
    apportion_into(amount, weights, &mut shares, &mut Scratch::default())?;
    Ok(shares)
}

/// [`apportion`] into `shares` (as long as `weights`), with `scratch`'s buffers for the
/// remainders and the order of the leftover fen: no allocation once they have grown.
fn apportion_into(
    amount: i64,
    weights: &[i64],
    shares: &mut [i64],
    scratch: &mut Scratch,
) -> CoreResult<()> {
    let total: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    if amount < 0 || weights.iter().any(|&w| w < 0) {
        return Err(invalid("amount_fen", "amounts and weights must be >= 0"));
    }
    if i128::from(amount) > total {
        return Err(invalid(
            "amount_fen",
            format!("{amount} fen is more than the {total} fen it applies to"),
        ));
    }
    if amount == 0 {
        shares.fill(0);
        return Ok(());
    }
    if let [only] = shares {
        // amount ≤ W = w: the one share is the amount, no remainder.
        *only = amount;
        return Ok(());
    }
    let remainders = &mut scratch.remainders;
    remainders.clear();
    let mut given = 0i64;
    // amount ≤ W and every wᵢ ≤ W: when amount·W fits in 64 bits, so does every amount·wᵢ.
    match i64::try_from(total)
        .ok()
        .filter(|&t| amount.checked_mul(t).is_some())
    {
        Some(total) => {
            for (share, &w) in shares.iter_mut().zip(weights) {
                let product = amount * w;
                *share = product / total;
                given += *share;
                remainders.push(i128::from(product % total));
            }
        }
        None => {
            for (share, &w) in shares.iter_mut().zip(weights) {
                let product = i128::from(amount) * i128::from(w);
                *share = i64::try_from(product / total).map_err(|_| overflow("share"))?;
                given += *share;
                remainders.push(product % total);
            }
        }
    }
    let leftover = (amount - given) as usize;
    if leftover > 0 {
        // The leftover fen go to the first `leftover` positions in this order.
        let order = &mut scratch.order;
        order.clear();
        order.extend(0..weights.len());
        let before = |&a: &usize, &b: &usize| {
            remainders[b]
                .cmp(&remainders[a])
                .then(weights[b].cmp(&weights[a]))
                .then(a.cmp(&b))
        };
        if leftover < order.len() {
            order.select_nth_unstable_by(leftover - 1, before);
        }
        for &i in &order[..leftover] {
            shares[i] += 1;
        }
    }
    Ok(())
}

/// Who funds a discount (WeChat's coupon types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funder {
    Merchant,
    Creator,
    Platform,
    Government,
}

impl Funder {
    /// Funders other than the merchant pay the merchant what they fund (a subsidy).
    pub fn subsidises(self) -> bool {
        self != Funder::Merchant
    }

    /// Where the funder's part goes in a line's `[creator, platform, government]` subsidy.
    fn subsidy_slot(self) -> Option<usize> {
        match self {
            Funder::Merchant => None,
            Funder::Creator => Some(0),
            Funder::Platform => Some(1),
            Funder::Government => Some(2),
        }
    }
}

/// One discount, with its lines as positions in the order (empty: every line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    pub funder: Funder,
    pub amount_fen: i64,
    pub lines: Vec<usize>,
}

/// Buffers reused from one order to the next, so that splitting a batch allocates only its
/// output.
#[derive(Debug, Default)]
struct Scratch {
    /// Each line's gross, then (in [`apply_discounts_into`]) what is still payable.
    gross: Vec<i64>,
    payable: Vec<i64>,
    /// Discount d's share of line l at `d × lines + l`.
    shares: Vec<i64>,
    /// One discount's lines, their weights and their shares.
    lines: Vec<usize>,
    weights: Vec<i64>,
    line_shares: Vec<i64>,
    seen: Vec<bool>,
    remainders: Vec<i128>,
    order: Vec<usize>,
}

/// What each line is discounted, per discount (`per_discount[d][line]`), after applying the
/// discounts in order, each over its lines' payable amounts at that point.
pub fn apply_discounts(gross: &[i64], discounts: &[Discount]) -> CoreResult<Vec<Vec<i64>>> {
    let mut scratch = Scratch::default();
    apply_discounts_into(gross, discounts, &mut scratch)?;
    if gross.is_empty() {
        return Ok(vec![Vec::new(); discounts.len()]);
    }
    Ok(scratch
        .shares
        .chunks_exact(gross.len())
        .map(<[i64]>::to_vec)
        .collect())
}

/// [`apply_discounts`] into `scratch.shares` (discount d's share of line l at `d × lines + l`).
fn apply_discounts_into(
    gross: &[i64],
    discounts: &[Discount],
    scratch: &mut Scratch,
) -> CoreResult<()> {
    let n = gross.len();
    scratch.payable.clear();
    scratch.payable.extend_from_slice(gross);
    scratch.shares.clear();
    scratch.shares.resize(discounts.len() * n, 0);
    for (d, discount) in discounts.iter().enumerate() {
        let mut lines = std::mem::take(&mut scratch.lines);
        lines.clear();
        if discount.lines.is_empty() {
            lines.extend(0..n);
        } else {
            lines.extend_from_slice(&discount.lines);
        }
        let applied = apply_discount(d, discount.amount_fen, &lines, n, scratch);
        scratch.lines = lines;
        applied?;
    }
    Ok(())
}

/// Discount `d` of `amount_fen` over `lines` (positions among `n` lines): checked, apportioned
/// over what is still payable, recorded in `scratch.shares` and taken off `scratch.payable`.
fn apply_discount(
    d: usize,
    amount_fen: i64,
    lines: &[usize],
    n: usize,
    scratch: &mut Scratch,
) -> CoreResult<()> {
    if let Some(&bad) = lines.iter().find(|&&l| l >= n) {
        return Err(invalid(
            format!("discounts[{d}].line_ids"),
            format!("no line {bad}"),
        ));
    }
    if lines.len() > 1 {
        let seen = &mut scratch.seen;
        seen.clear();
        seen.resize(n, false);
        if lines.iter().any(|&l| std::mem::replace(&mut seen[l], true)) {
            return Err(invalid(
                format!("discounts[{d}].line_ids"),
                "must not repeat a line",
            ));
        }
    }
    let mut weights = std::mem::take(&mut scratch.weights);
    let mut line_shares = std::mem::take(&mut scratch.line_shares);
    weights.clear();
    weights.extend(lines.iter().map(|&l| scratch.payable[l]));
    line_shares.clear();
    line_shares.resize(lines.len(), 0);
    let apportioned = apportion_into(amount_fen, &weights, &mut line_shares, scratch);
    if apportioned.is_ok() {
        let row = &mut scratch.shares[d * n..(d + 1) * n];
        for (&l, &share) in lines.iter().zip(&line_shares) {
            row[l] = share;
            scratch.payable[l] -= share;
        }
    }
    scratch.weights = weights;
    scratch.line_shares = line_shares;
    apportioned.map_err(|e| match e {
        CoreError::InvalidArgument(v) => CoreError::InvalidArgument(
            v.into_iter()
                .map(|f| FieldViolation::new(format!("discounts[{d}].{}", f.field), f.description))
                .collect(),
        ),
        other => other,
    })
}

/// One party of an agency chain and the share of what it receives that it passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    pub pass_down_ppm: u32,
}

/// What each chain party keeps when the head receives `head_fen`: each passes
/// `round_half_up(received × pass_down / 1,000,000)` to the next; the last keeps all.
pub fn chain_kept(head_fen: i64, chain: &[ChainLink]) -> CoreResult<Vec<i64>> {
    let mut kept = vec![0; chain.len()];
    chain_kept_into(head_fen, chain, &mut kept)?;
    Ok(kept)
}

/// [`chain_kept`] into `kept` (as long as `chain`).
#[inline]
fn chain_kept_into(head_fen: i64, chain: &[ChainLink], kept: &mut [i64]) -> CoreResult<()> {
    let mut received = head_fen;
    for (i, (link, keeps)) in chain.iter().zip(kept.iter_mut()).enumerate() {
        let passed = if i + 1 == chain.len() {
            0
        } else {
            apply_ppm(received, link.pass_down_ppm)?
        };
        *keeps = received - passed;
        received = passed;
    }
    Ok(())
}

/// The platform fee of a line with fee base `gmv`, `allowance` fen of fee base still at the
/// new-merchant rate (consumed here), and the category's rate: `(fee, low)` where `low` is
/// the part of `gmv` charged at the new-merchant rate.
#[inline]
pub fn line_fee(
    gmv: i64,
    allowance: &mut i64,
    new_merchant_ppm: u32,
    category_ppm: u32,
) -> CoreResult<(i64, i64)> {
    let low = gmv.min(*allowance).max(0);
    *allowance -= low;
    let narrow = low
        .checked_mul(i64::from(new_merchant_ppm))
        .zip((gmv - low).checked_mul(i64::from(category_ppm)))
        .and_then(|(a, b)| a.checked_add(b));
    let fee = round_ppm(narrow, || {
        i128::from(low) * i128::from(new_merchant_ppm)
            + i128::from(gmv - low) * i128::from(category_ppm)
    })?;
    Ok((fee, low))
}

/// How one line's money divides. Exactly: `paid + Σ subsidy = merchant + fee + creator +
/// Σ chain_kept`, every amount ≥ 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineSplit {
    /// `unit_price × quantity`.
    pub gross: i64,
    /// Each discount of the order's share of this line, in discount order (0 where a discount
    /// does not cover the line).
    pub discounts: Vec<i64>,
    /// What the buyer paid: gross minus every discount.
    pub paid: i64,
    /// Discount parts paid to the merchant by their funders: creator, platform, government.
    pub subsidy: [i64; 3],
    /// The part of the gmv charged at the new-merchant rate.
    pub new_merchant_base: i64,
    /// The platform's technical service fee.
    pub fee: i64,
    pub creator_commission: i64,
    /// What each chain party keeps, head first; they add up to the agency service fee.
    pub chain_kept: Vec<i64>,
    pub merchant: i64,
}

impl LineSplit {
    pub fn gmv(&self) -> i64 {
        self.paid + self.subsidy.iter().sum::<i64>()
    }

    /// The agency service fee: what the merchant pays the chain's head.
    pub fn chain_head(&self) -> i64 {
        self.chain_kept.iter().sum()
    }
}

/// Commission terms of a line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commissions {
    pub creator_ppm: u32,
    /// Agency service fee, paid to the head of `chain`.
    pub service_ppm: u32,
    pub chain: Vec<ChainLink>,
}

/// Splits one line: `paid` after discounts, `subsidy` per funder (creator, platform,
/// government), the line's `fee` (computed by [`line_fee`]) and its commissions. A line whose
/// fee and commissions exceed its gmv, or a ratio above [`MAX_RATIO_PPM`], is refused.
pub fn split_line(
    paid: i64,
    subsidy: [i64; 3],
    fee: i64,
    terms: &Commissions,
) -> CoreResult<LineSplit> {
    let mut chain_kept = vec![0; terms.chain.len()];
    let (creator_commission, merchant) =
        split_line_into(paid, subsidy, fee, terms, &mut chain_kept)?;
    Ok(LineSplit {
        paid,
        subsidy,
        fee,
        creator_commission,
        chain_kept,
        merchant,
        ..LineSplit::default()
    })
}

/// [`split_line`] writing the chain's kept amounts into `chain_kept` (as long as the chain):
/// returns `(creator_commission, merchant)`.
#[inline]
fn split_line_into(
    paid: i64,
    subsidy: [i64; 3],
    fee: i64,
    terms: &Commissions,
    chain_kept: &mut [i64],
) -> CoreResult<(i64, i64)> {
    let ratios = [terms.creator_ppm, terms.service_ppm]
        .into_iter()
        .chain(terms.chain.iter().map(|l| l.pass_down_ppm));
    if ratios.into_iter().any(|r| r > MAX_RATIO_PPM) {
        return Err(invalid(
            "ratio_ppm",
            format!("every ratio must be at most {MAX_RATIO_PPM} ppm"),
        ));
    }
    let creator_commission = apply_ppm(paid, terms.creator_ppm)?;
    let head = if terms.chain.is_empty() {
        0
    } else {
        apply_ppm(paid, terms.service_ppm)?
    };
    chain_kept_into(head, &terms.chain, chain_kept)?;
    let gmv = paid
        .checked_add(subsidy.iter().sum::<i64>())
        .ok_or_else(|| overflow("gmv"))?;
    let taken = fee
        .checked_add(creator_commission)
        .and_then(|t| t.checked_add(head))
        .ok_or_else(|| overflow("fee and commissions"))?;
    if taken > gmv {
        return Err(invalid(
            "lines",
            format!("fee and commissions ({taken} fen) exceed the line's gmv ({gmv} fen)"),
        ));
    }
    Ok((creator_commission, gmv - taken))
}

/// What a line's refunds have reversed in total: the buyer gets `refunded` back, each subsidy
/// funder its `subsidy` part, and each party gives back its part. Exactly: `refunded +
/// Σ subsidy = merchant + fee + creator_commission + Σ chain_kept`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reversal {
    pub refunded: i64,
    pub subsidy: [i64; 3],
    pub fee: i64,
    pub creator_commission: i64,
    pub chain_kept: Vec<i64>,
    pub merchant: i64,
}

impl Reversal {
    pub fn chain_head(&self) -> i64 {
        self.chain_kept.iter().sum()
    }

    /// What must have been reversed after `refunded` fen of the line's `paid` came back to the
    /// buyer in total (SPEC §5, cumulative): each component c (each subsidy, the fee, the
    /// creator commission, the chain head) reversed `round_half_up(c · refunded / paid)`, the
    /// chain recomputed on the reversed head, and the merchant giving back the rest.
    ///
    /// Two rules the SPEC leaves open, decided here:
    /// - The merchant's part, the residual, stays within [0, merchant's share]: where the
    ///   rounding of the other parts would push it out, the difference is taken from (or
    ///   added to) the fee, then the creator commission, then the chain head, each within
    ///   [0, its share]. (Without this a 1-fen refund of a line paid 46 whose creator and
    ///   chain take 34 fen each would reverse 1 fen of each and *pay* the merchant 1 fen.)
    ///   There is always room: what is reversed, refunded + Σ subsidy, is at most the gmv.
    /// - A line paid entirely by subsidies (paid 0) has nothing of its own to refund; it is
    ///   reversed whole when `whole_order` is refunded (every line's refunded = paid), so a
    ///   fully refunded order nets every party, funders included, to zero.
    ///
    /// At `refunded == paid` (paid > 0) the reversal equals the split itself.
    pub fn of(
        split: &LineSplit,
        refunded: i64,
        whole_order: bool,
        terms: &Commissions,
    ) -> CoreResult<Self> {
        if refunded < 0 || refunded > split.paid {
            return Err(invalid(
                "amount_fen",
                format!("at most {} fen of this line can be refunded", split.paid),
            ));
        }
        let (numerator, denominator) = match split.paid {
            0 => (i128::from(whole_order), 1),
            paid => (i128::from(refunded), i128::from(paid)),
        };
        let part = |c: i64| round_half_up(i128::from(c) * numerator, denominator);
        let subsidy = [
            part(split.subsidy[0])?,
            part(split.subsidy[1])?,
            part(split.subsidy[2])?,
        ];
        let mut fee = part(split.fee)?;
        let mut creator_commission = part(split.creator_commission)?;
        let mut head = part(split.chain_head())?;
        let returned = refunded + subsidy.iter().sum::<i64>();
        let mut merchant = returned - fee - creator_commission - head;
        let others = [
            (&mut fee, split.fee),
            (&mut creator_commission, split.creator_commission),
            (&mut head, split.chain_head()),
        ];
        if merchant < 0 {
            let mut deficit = -merchant;
            for (reversed, _) in others {
                let take = deficit.min(*reversed);
                *reversed -= take;
                deficit -= take;
            }
            debug_assert_eq!(deficit, 0);
            merchant = 0;
        } else if merchant > split.merchant {
            let mut excess = merchant - split.merchant;
            for (reversed, share) in others {
                let add = excess.min(share - *reversed);
                *reversed += add;
                excess -= add;
            }
            debug_assert_eq!(excess, 0);
            merchant = split.merchant;
        }
        Ok(Reversal {
            refunded,
            subsidy,
            fee,
            creator_commission,
            chain_kept: chain_kept(head, &terms.chain)?,
            merchant,
        })
    }
}

/// One order line as the split needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub unit_price_fen: i64,
    pub quantity: i64,
    /// The platform fee rate of the line's category.
    pub category_fee_ppm: u32,
}

/// Words of a packed order's header: line count, discount count, chain length.
pub const PACKED_HEADER_WORDS: usize = 3;
/// Words of a packed line before its discount shares and its chain's kept amounts.
pub const PACKED_LINE_WORDS: usize = 9;
/// Words of an order's totals before its chain parties' kept amounts.
pub const TOTALS_WORDS: usize = 7;

/// Splits every line of one order: discounts apportioned in order, then per line (in line
/// order) the fee, consuming `allowance` (fee base still at `new_merchant_ppm`), and the
/// commissions. Nothing is consumed when the order is refused.
pub fn split_order(
    lines: &[OrderLine],
    discounts: &[Discount],
    terms: &Commissions,
    allowance: &mut i64,
    new_merchant_ppm: u32,
) -> CoreResult<Vec<LineSplit>> {
    let mut packed = PackedSplits::default();
    let mut remaining = *allowance;
    split_order_into(
        lines,
        discounts,
        terms,
        &mut remaining,
        new_merchant_ppm,
        &mut Scratch::default(),
        &mut packed,
    )?;
    *allowance = remaining;
    Ok(packed.lines(0))
}

/// [`split_order`] appending the order to `out` (its packed split and its totals), with
/// `scratch`'s buffers. On a refusal `allowance` and `out` are left part-way: the caller
/// discards them.
fn split_order_into(
    lines: &[OrderLine],
    discounts: &[Discount],
    terms: &Commissions,
    allowance: &mut i64,
    new_merchant_ppm: u32,
    scratch: &mut Scratch,
    out: &mut PackedSplits,
) -> CoreResult<()> {
    scratch.gross.clear();
    for (i, l) in lines.iter().enumerate() {
        if l.unit_price_fen < 0 || l.quantity < 0 {
            return Err(invalid(
                format!("lines[{i}]"),
                "unit_price_fen and quantity must be >= 0",
            ));
        }
        let gross = l
            .unit_price_fen
            .checked_mul(l.quantity)
            .ok_or_else(|| overflow("gross"))?;
        scratch.gross.push(gross);
    }
    let gross = std::mem::take(&mut scratch.gross);
    let applied = apply_discounts_into(&gross, discounts, scratch);
    scratch.gross = gross;
    applied?;
    let (n, d, c) = if lines.is_empty() {
        (0, 0, 0)
    } else {
        (lines.len(), discounts.len(), terms.chain.len())
    };
    let line_words = PACKED_LINE_WORDS + d + c;
    let words = &mut out.words;
    words.extend([n as i64, d as i64, c as i64]);
    let totals_at = out.totals.len();
    out.totals.resize(totals_at + TOTALS_WORDS + c, 0);
    for (i, line) in lines.iter().enumerate() {
        let gross = scratch.gross[i];
        let mut paid = gross;
        let mut subsidy = [0i64; 3];
        let at = words.len();
        words.resize(at + line_words, 0);
        let w = &mut words[at..];
        for (k, discount) in discounts.iter().enumerate() {
            let share = scratch.shares[k * n + i];
            w[PACKED_LINE_WORDS + k] = share;
            paid -= share;
            if let Some(slot) = discount.funder.subsidy_slot() {
                subsidy[slot] += share;
            }
        }
        let gmv = paid + subsidy.iter().sum::<i64>();
        let (fee, low) = line_fee(gmv, allowance, new_merchant_ppm, line.category_fee_ppm)?;
        let (creator_commission, merchant) =
            split_line_into(paid, subsidy, fee, terms, &mut w[PACKED_LINE_WORDS + d..]).map_err(
                |e| match e {
                    CoreError::InvalidArgument(v) => CoreError::InvalidArgument(
                        v.into_iter()
                            .map(|f| FieldViolation::new(format!("lines[{i}]"), f.description))
                            .collect(),
                    ),
                    other => other,
                },
            )?;
        w[..PACKED_LINE_WORDS].copy_from_slice(&[
            gross,
            paid,
            subsidy[0],
            subsidy[1],
            subsidy[2],
            low,
            fee,
            creator_commission,
            merchant,
        ]);
        // Each part of a line is within its gross, but the order's sums may not fit.
        let totals = &mut out.totals[totals_at..];
        let parts = [
            paid,
            subsidy[0],
            subsidy[1],
            subsidy[2],
            fee,
            creator_commission,
            merchant,
        ];
        let kept = &w[PACKED_LINE_WORDS + d..];
        for (total, &part) in totals.iter_mut().zip(parts.iter().chain(kept)) {
            *total = total
                .checked_add(part)
                .ok_or_else(|| overflow("order totals"))?;
        }
    }
    out.ends.push(words.len());
    out.totals_ends.push(out.totals.len());
    Ok(())
}

/// One order of a batch: its shop's position in the batch's allowance list, and what
/// [`split_order`] needs.
#[derive(Debug, Clone)]
pub struct OrderInput {
    pub shop: usize,
    pub lines: Vec<OrderLine>,
    pub discounts: Vec<Discount>,
    pub terms: Commissions,
}

/// The splits of a batch of orders, packed: order k's split is `split(k)`, little-endian
/// i64 words as stored by the service (see [`PackedSplits::split`]), and what it moves in
/// total is `totals(k)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackedSplits {
    words: Vec<i64>,
    /// Where each order's words end.
    ends: Vec<usize>,
    totals: Vec<i64>,
    totals_ends: Vec<usize>,
}

impl PackedSplits {
    /// How many orders.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Order k's split: `[line count, discount count, chain length]`, then per line `[gross,
    /// paid, creator subsidy, platform subsidy, government subsidy, new_merchant_base, fee,
    /// creator_commission, merchant]`, the line's discount shares (discount order) and its
    /// chain parties' kept amounts (head first). Read by
    /// `xiaodian.settlement.orders.unpack_split`.
    pub fn split(&self, k: usize) -> &[i64] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.words[start..self.ends[k]]
    }

    /// What order k moves in total, summed over its lines: `[paid, creator subsidy, platform
    /// subsidy, government subsidy, fee, creator_commission, merchant]`, then each chain
    /// party's kept amount, head first.
    pub fn totals(&self, k: usize) -> &[i64] {
        let start = if k == 0 { 0 } else { self.totals_ends[k - 1] };
        &self.totals[start..self.totals_ends[k]]
    }

    /// Order k's split as [`LineSplit`]s.
    pub fn lines(&self, k: usize) -> Vec<LineSplit> {
        let words = self.split(k);
        let (d, c) = (words[1] as usize, words[2] as usize);
        words[PACKED_HEADER_WORDS..]
            .chunks_exact(PACKED_LINE_WORDS + d + c)
            .map(|w| LineSplit {
                gross: w[0],
                paid: w[1],
                subsidy: [w[2], w[3], w[4]],
                new_merchant_base: w[5],
                fee: w[6],
                creator_commission: w[7],
                merchant: w[8],
                discounts: w[PACKED_LINE_WORDS..PACKED_LINE_WORDS + d].to_vec(),
                chain_kept: w[PACKED_LINE_WORDS + d..].to_vec(),
            })
            .collect()
    }
}

/// Splits a batch of orders in order, each consuming its shop's allowance
/// (`allowances[order.shop]`) as if recorded one by one. All or nothing: on the first refused
/// order the error names it (`orders[i].…`) and no allowance is consumed.
///
/// The batch allocates its output only (sized up front) and reuses its scratch buffers from
/// one order to the next.
pub fn split_orders(
    orders: &[OrderInput],
    allowances: &mut [i64],
    new_merchant_ppm: u32,
) -> CoreResult<PackedSplits> {
    let mut remaining = allowances.to_vec();
    let (mut words, mut totals) = (0, 0);
    for order in orders {
        let (n, d, c) = (
            order.lines.len(),
            order.discounts.len(),
            order.terms.chain.len(),
        );
        words += PACKED_HEADER_WORDS + n * (PACKED_LINE_WORDS + d + c);
        totals += TOTALS_WORDS + c;
    }
    let mut out = PackedSplits {
        words: Vec::with_capacity(words),
        ends: Vec::with_capacity(orders.len()),
        totals: Vec::with_capacity(totals),
        totals_ends: Vec::with_capacity(orders.len()),
    };
    let mut scratch = Scratch::default();
    for (i, order) in orders.iter().enumerate() {
        let allowance = remaining
            .get_mut(order.shop)
            .ok_or_else(|| invalid(format!("orders[{i}]"), "no allowance for the order's shop"))?;
        split_order_into(
            &order.lines,
            &order.discounts,
            &order.terms,
            allowance,
            new_merchant_ppm,
            &mut scratch,
            &mut out,
        )
        .map_err(|e| match e {
            CoreError::InvalidArgument(v) => CoreError::InvalidArgument(
                v.into_iter()
                    .map(|f| FieldViolation::new(format!("orders[{i}].{}", f.field), f.description))
                    .collect(),
            ),
            other => other,
        })?;
    }
    allowances.copy_from_slice(&remaining);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up() {
        assert_eq!(round_half_up(5, 10).unwrap(), 1);
        assert_eq!(round_half_up(4, 10).unwrap(), 0);
        assert_eq!(apply_ppm(999, 500_000).unwrap(), 500); // 499.5 -> 500
        assert_eq!(
            apply_ppm(i64::MAX, 900_000).unwrap(),
            8_301_034_833_169_298_226
        );
    }

    #[test]
    fn largest_remainder_with_the_tie_rules() {
        // 10 over 10:10:10 -> 3.33 each: one leftover fen, equal remainders and weights -> first.
        assert_eq!(apportion(10, &[10, 10, 10]).unwrap(), [4, 3, 3]);
        // Largest remainder: 5 over 30:10 -> 3.75, 1.25.
        assert_eq!(apportion(5, &[30, 10]).unwrap(), [4, 1]);
        // Equal remainders (2 of 4 each), the larger weight wins: 2 over 1:3 -> 0.5, 1.5.
        assert_eq!(apportion(2, &[1, 3]).unwrap(), [0, 2]);
        // Remainders 2, 0, 2 of 4: the tie between equal weights goes to the earlier line.
        assert_eq!(apportion(2, &[1, 2, 1]).unwrap(), [1, 1, 0]);
        assert!(apportion(11, &[5, 5]).is_err());
        assert_eq!(apportion(0, &[0, 0]).unwrap(), [0, 0]);
    }

    #[test]
    fn apportioning_always_adds_up_and_stays_within_one_fen() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..10_000 {
            let weights: Vec<i64> = (0..1 + next(6)).map(|_| next(100_000) as i64).collect();
            let total: i64 = weights.iter().sum();
            let amount = if total == 0 {
                0
            } else {
                next(total as u64 + 1) as i64
            };
            let shares = apportion(amount, &weights).unwrap();
            assert_eq!(shares.iter().sum::<i64>(), amount);
            for (&s, &w) in shares.iter().zip(&weights) {
                let exact = amount as f64 * w as f64 / total.max(1) as f64;
                assert!((s as f64 - exact).abs() < 1.0 + 1e-9, "{s} vs {exact}");
                assert!(s <= w);
            }
        }
    }

    #[test]
    fn discounts_apply_in_order_on_what_is_still_payable() {
        let gross = [1000, 3000];
        let discounts = [
            Discount {
                funder: Funder::Merchant,
                amount_fen: 400,
                lines: vec![],
            },
            Discount {
                funder: Funder::Platform,
                amount_fen: 100,
                lines: vec![1],
            },
        ];
        let per = apply_discounts(&gross, &discounts).unwrap();
        assert_eq!(per[0], [100, 300]);
        assert_eq!(per[1], [0, 100]);
        let too_much = [Discount {
            funder: Funder::Creator,
            amount_fen: 1001,
            lines: vec![0],
        }];
        match apply_discounts(&gross, &too_much) {
            Err(CoreError::InvalidArgument(v)) => assert_eq!(v[0].field, "discounts[0].amount_fen"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_five_party_example_of_wechat() {
        // Merchant pays ¥10 (1000 fen) -> agency keeps ¥4 -> sub-agency ¥2 -> creator ¥2 ->
        // promoter agency ¥1 -> promoter ¥1.
        let chain = [600_000, 666_667, 500_000, 500_000, 0].map(|p| ChainLink { pass_down_ppm: p });
        assert_eq!(chain_kept(1000, &chain).unwrap(), [400, 200, 200, 100, 100]);
    }

    #[test]
    fn splits_balance_and_full_reversals_undo_them() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..20_000 {
            let paid = if next(2) == 0 {
                next(1_000_000)
            } else {
                next(60)
            } as i64;
            let s = if paid < 60 { 20 } else { 5_000 };
            let subsidy = [next(s) as i64, next(s) as i64, next(s) as i64];
            let terms = Commissions {
                creator_ppm: next(900_001) as u32,
                service_ppm: next(900_001) as u32,
                chain: (0..next(6))
                    .map(|_| ChainLink {
                        pass_down_ppm: next(900_001) as u32,
                    })
                    .collect(),
            };
            let mut allowance = next(2_000_000) as i64;
            let (fee, _) = line_fee(
                paid + subsidy.iter().sum::<i64>(),
                &mut allowance,
                10_000,
                50_000,
            )
            .unwrap();
            let Ok(split) = split_line(paid, subsidy, fee, &terms) else {
                continue;
            };
            let out = split.merchant + split.fee + split.creator_commission + split.chain_head();
            assert_eq!(split.gmv(), out);
            assert!(split.merchant >= 0);
            let full = Reversal::of(&split, paid, true, &terms).unwrap();
            assert_eq!(
                (
                    full.subsidy,
                    full.fee,
                    full.creator_commission,
                    full.merchant
                ),
                (
                    split.subsidy,
                    split.fee,
                    split.creator_commission,
                    split.merchant
                )
            );
            assert_eq!(full.chain_kept, split.chain_kept);
            let mut previous = Reversal::of(&split, 0, false, &terms).unwrap();
            assert_eq!(previous.merchant + previous.fee + previous.chain_head(), 0);
            let mut refunded = 0;
            while refunded < paid {
                refunded += 1 + next((paid - refunded) as u64) as i64;
                let r = Reversal::of(&split, refunded, refunded == paid, &terms).unwrap();
                let out = r.merchant + r.fee + r.creator_commission + r.chain_head();
                assert_eq!(r.refunded + r.subsidy.iter().sum::<i64>(), out, "balances");
                for (reversed, share) in [
                    (r.fee, split.fee),
                    (r.creator_commission, split.creator_commission),
                    (r.merchant, split.merchant),
                ]
                .into_iter()
                .chain(r.subsidy.into_iter().zip(split.subsidy))
                .chain(
                    r.chain_kept
                        .iter()
                        .copied()
                        .zip(split.chain_kept.iter().copied()),
                ) {
                    assert!((0..=share).contains(&reversed), "{r:?} of {split:?}");
                }
                previous = r;
            }
            if paid > 0 {
                assert_eq!(
                    previous, full,
                    "partial refunds add up to the full reversal"
                );
            }
        }
    }

    #[test]
    fn a_tiny_refund_never_pays_the_merchant() {
        // paid 46, creator 74 % (34 fen), chain head 74 % (34 fen): the SPEC's per-component
        // rounding reverses 1 fen of each for a 1-fen refund; the merchant's residual would be
        // -1, so the fee, then the creator commission give way.
        let terms = Commissions {
            creator_ppm: 740_000,
            service_ppm: 740_000,
            chain: vec![ChainLink { pass_down_ppm: 0 }],
        };
        let split = split_line(46, [0, 0, 22], 0, &terms).unwrap();
        assert_eq!((split.creator_commission, split.chain_head()), (34, 34));
        let r = Reversal::of(&split, 1, false, &terms).unwrap();
        assert_eq!(
            (r.merchant, r.fee, r.creator_commission, r.chain_head()),
            (0, 0, 0, 1)
        );
    }

    #[test]
    fn a_line_paid_by_subsidies_is_reversed_with_the_whole_order() {
        let terms = Commissions::default();
        let split = split_line(0, [0, 500, 0], 25, &terms).unwrap();
        assert_eq!(
            Reversal::of(&split, 0, false, &terms).unwrap().subsidy,
            [0; 3]
        );
        let r = Reversal::of(&split, 0, true, &terms).unwrap();
        assert_eq!((r.subsidy, r.fee, r.merchant), ([0, 500, 0], 25, 475));
        assert!(Reversal::of(&split, 1, true, &terms).is_err());
    }

    #[test]
    fn an_order_worked_by_hand() {
        // Two lines: 2 x ¥50 and 1 x ¥100 (10,000 + 10,000 fen). A ¥20 merchant coupon on both
        // lines (1,000 each), then a ¥10 platform coupon on line 1 only. Creator 10 %, no
        // chain; 5,000 fen of new-merchant allowance left, fee 1 % / 5 %.
        let lines = [
            OrderLine {
                unit_price_fen: 5_000,
                quantity: 2,
                category_fee_ppm: 50_000,
            },
            OrderLine {
                unit_price_fen: 10_000,
                quantity: 1,
                category_fee_ppm: 50_000,
            },
        ];
        let discounts = [
            Discount {
                funder: Funder::Merchant,
                amount_fen: 2_000,
                lines: vec![],
            },
            Discount {
                funder: Funder::Platform,
                amount_fen: 1_000,
                lines: vec![1],
            },
        ];
        let terms = Commissions {
            creator_ppm: 100_000,
            service_ppm: 0,
            chain: vec![],
        };
        let mut allowance = 5_000;
        let splits = split_order(&lines, &discounts, &terms, &mut allowance, 10_000).unwrap();
        // Line 0: paid 9,000, gmv 9,000: 5,000 at 1 % + 4,000 at 5 % = 50 + 200 = 250.
        assert_eq!(
            (splits[0].paid, splits[0].fee, splits[0].creator_commission),
            (9_000, 250, 900)
        );
        assert_eq!(splits[0].merchant, 9_000 - 250 - 900);
        // Line 1: paid 8,000 + 1,000 platform subsidy = gmv 9,000, all at 5 % = 450.
        assert_eq!(
            (splits[1].paid, splits[1].subsidy, splits[1].fee),
            (8_000, [0, 1_000, 0], 450)
        );
        assert_eq!(splits[1].creator_commission, 800);
        assert_eq!(splits[1].merchant, 9_000 - 450 - 800);
        assert_eq!(allowance, 0);
        // Refused orders consume nothing.
        let mut allowance = 5_000;
        let greedy = Commissions {
            creator_ppm: 900_000,
            service_ppm: 900_000,
            chain: vec![ChainLink { pass_down_ppm: 0 }],
        };
        match split_order(&lines, &discounts, &greedy, &mut allowance, 10_000) {
            Err(CoreError::InvalidArgument(v)) => assert_eq!(v[0].field, "lines[0]"),
            other => panic!("{other:?}"),
        }
        assert_eq!(allowance, 5_000);
    }

    #[test]
    fn refuses_repeated_lines_negative_amounts_and_overflow() {
        let one = |unit_price_fen, category_fee_ppm| OrderLine {
            unit_price_fen,
            quantity: 1,
            category_fee_ppm,
        };
        let twice = [Discount {
            funder: Funder::Merchant,
            amount_fen: 100,
            lines: vec![0, 0],
        }];
        let none = Commissions::default();
        let mut allowance = 0;
        match split_order(&[one(100, 0)], &twice, &none, &mut allowance, 0) {
            Err(CoreError::InvalidArgument(v)) => assert_eq!(v[0].field, "discounts[0].line_ids"),
            other => panic!("{other:?}"),
        }
        match split_order(&[one(-100, 50_000)], &[], &none, &mut allowance, 0) {
            Err(CoreError::InvalidArgument(v)) => assert_eq!(v[0].field, "lines[0]"),
            other => panic!("{other:?}"),
        }
        let greedy = Commissions {
            creator_ppm: 900_000,
            ..Commissions::default()
        };
        match split_order(&[one(1 << 62, 1_999_999)], &[], &greedy, &mut allowance, 0) {
            Err(CoreError::Overflow(what)) => assert_eq!(what, "fee and commissions"),
            other => panic!("{other:?}"),
        }
        // Each line fits, their sum does not: refused, never a wrapped total.
        let huge = [one(i64::MAX / 2 + 1, 0), one(i64::MAX / 2 + 1, 0)];
        match split_order(&huge, &[], &none, &mut allowance, 0) {
            Err(CoreError::Overflow(what)) => assert_eq!(what, "order totals"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_crossing_the_new_merchant_cap_is_split() {
        let mut allowance = 300;
        // 300 fen at 1 %, 700 at 5 %: (300 * 10,000 + 700 * 50,000 + 500,000) div 1,000,000 = 38.
        assert_eq!(
            line_fee(1000, &mut allowance, 10_000, 50_000).unwrap(),
            (38, 300)
        );
        assert_eq!(allowance, 0);
        assert_eq!(
            line_fee(1000, &mut allowance, 10_000, 50_000).unwrap(),
            (50, 0)
        );
    }
}
