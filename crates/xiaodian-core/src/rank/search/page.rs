//! Page shaping: near-duplicate collapse by hero-image hash (the original listing shown for
//! its group), at most `max_per_shop` products of a shop per page, and the page asked for out
//! of a ranked prefix.

use super::topk::Candidate;
use crate::rank::index::{HashMap, Index};

/// A near-duplicate group's original is looked for among its members up to this many
/// positions past the last one examined for the page (the ranking must reach that far, or be
/// whole).
pub(super) const DUPLICATE_LOOKAHEAD: usize = 100;

/// One page of a ranking after shaping.
pub(super) struct Shaped {
    /// The page's slots: positions in the ranking, in order (a near-duplicate group's slot is
    /// its best-ranked member's).
    pub(super) positions: Vec<usize>,
    /// For each slot of the page, the position of the product shown there: the group's
    /// original (see [`shape_page`]), else the slot's own.
    pub(super) shown: Vec<usize>,
    /// `collapsed_into[i]`: the position of the better-ranked near-duplicate that position `i`
    /// collapsed into, if any.
    collapsed_into: Vec<Option<usize>>,
    /// Positions before this were examined while filling the pages up to the previous one...
    scanned_before: usize,
    /// ...and up to this one.
    pub(super) scanned: usize,
    /// A product that is neither collapsed nor placed on a page up to this one remains.
    pub(super) any_left: bool,
}

impl Shaped {
    /// Duplicates collapsed into the group whose slot is `position`, among the positions
    /// examined and the lookahead: the group's members but the one shown.
    pub(super) fn collapsed_into_count(&self, position: usize) -> u32 {
        let limit = (self.scanned + DUPLICATE_LOOKAHEAD).min(self.collapsed_into.len());
        self.collapsed_into[..limit]
            .iter()
            .filter(|&&into| into == Some(position))
            .count() as u32
    }

    /// Duplicates met while filling this page.
    pub(super) fn collapsed_on_page(&self) -> u32 {
        self.collapsed_into[self.scanned_before..self.scanned]
            .iter()
            .filter(|into| into.is_some())
            .count() as u32
    }
}

/// Shapes `ranked` (each product with its tier) into pages and returns page `page`.
///
/// Near-duplicates first (unless `max_distance` is None): in rank order, a product whose hero
/// image's dHash is within `max_distance` bits of a better-ranked kept product's collapses into
/// the best-ranked such product (the group's slot) and appears on no page; products without a
/// hero image never collapse. Then pages are filled greedily in rank order with at most `cap`
/// slots of one shop per page (0: no cap; a slot counts for its own shop); a slot over its
/// shop's cap waits for the next page. Each slot of the page shows its group's original: of
/// the slot and the members of its tier up to [`DUPLICATE_LOOKAHEAD`] positions past the last
/// position examined, the earliest listed (then the smallest product id).
pub(super) fn shape_page(
    index: &Index,
    ranked: &[Candidate],
    tiers: &[u32],
    page: u32,
    page_size: usize,
    cap: u32,
    max_distance: Option<u32>,
) -> Shaped {
    let mut collapsed_into = vec![None; ranked.len()];
    if let Some(max_distance) = max_distance {
        let mut kept: Vec<(u64, usize)> = Vec::new();
        for (i, c) in ranked.iter().enumerate() {
            let Some(hash) = index.docs.records[c.doc as usize].dhash else {
                continue;
            };
            match kept
                .iter()
                .find(|(other, _)| (hash ^ other).count_ones() <= max_distance)
            {
                Some(&(_, into)) => collapsed_into[i] = Some(into),
                None => kept.push((hash, i)),
            }
        }
    }
    let mut placed: Vec<bool> = collapsed_into.iter().map(Option::is_some).collect();
    let mut first_open = 0;
    let mut scanned = 0;
    for p in 0..=page {
        let mut on_page = Vec::new();
        let mut per_shop: HashMap<u32, u32> = HashMap::default();
        let mut i = first_open;
        while i < ranked.len() && on_page.len() < page_size {
            if !placed[i] {
                let shop = index.docs.shop[ranked[i].doc as usize];
                let count = per_shop.entry(shop).or_insert(0);
                if cap == 0 || *count < cap {
                    *count += 1;
                    placed[i] = true;
                    on_page.push(i);
                }
            }
            i += 1;
        }
        let scanned_before = scanned;
        scanned = scanned.max(i);
        while first_open < ranked.len() && placed[first_open] {
            first_open += 1;
        }
        if p == page {
            let limit = (scanned + DUPLICATE_LOOKAHEAD).min(ranked.len());
            let records = &index.docs.records;
            let original = |slot: usize| {
                (slot..limit)
                    .filter(|&i| {
                        i == slot || (collapsed_into[i] == Some(slot) && tiers[i] == tiers[slot])
                    })
                    .min_by(|&a, &b| {
                        let (ra, rb) = (
                            &records[ranked[a].doc as usize],
                            &records[ranked[b].doc as usize],
                        );
                        ra.listed_at_s
                            .cmp(&rb.listed_at_s)
                            .then_with(|| ra.product_id.cmp(&rb.product_id))
                    })
                    .expect("the slot itself")
            };
            let shown = on_page.iter().map(|&slot| original(slot)).collect();
            return Shaped {
                positions: on_page,
                shown,
                collapsed_into,
                scanned_before,
                scanned,
                any_left: first_open < ranked.len(),
            };
        }
    }
    unreachable!("the loop returns on the last page")
}
