//! Page shaping: near-duplicate collapse by hero-image hash, at most `max_per_shop` products
//! of a shop per page, and the page asked for out of a ranked prefix.

use super::topk::Candidate;
use crate::rank::index::{HashMap, Index};

/// One page of a ranking after shaping.
pub(super) struct Shaped {
    /// The page's positions in the ranking, in order.
    pub(super) positions: Vec<usize>,
    /// `collapsed_into[i]`: the position of the better-ranked near-duplicate that position `i`
    /// collapsed into, if any.
    collapsed_into: Vec<Option<usize>>,
    /// Positions before this were examined while filling the pages up to the previous one...
    scanned_before: usize,
    /// ...and up to this one.
    scanned: usize,
    /// A product that is neither collapsed nor placed on a page up to this one remains.
    pub(super) any_left: bool,
}

impl Shaped {
    /// Duplicates collapsed into the product at `position`, among the examined positions.
    pub(super) fn collapsed_into_count(&self, position: usize) -> u32 {
        self.collapsed_into[..self.scanned]
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

/// Shapes `ranked` into pages and returns page `page`.
///
/// Near-duplicates first (unless `max_distance` is None): in rank order, a product whose hero
/// image's dHash is within `max_distance` bits of a better-ranked kept product's collapses into
/// the best-ranked such product and appears on no page; products without a hero image never
/// collapse. Then pages are filled greedily in rank order with at most `cap` products of one
/// shop per page (0: no cap); a product over its shop's cap waits for the next page.
pub(super) fn shape_page(
    index: &Index,
    ranked: &[Candidate],
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
            return Shaped {
                positions: on_page,
                collapsed_into,
                scanned_before,
                scanned,
                any_left: first_open < ranked.len(),
            };
        }
    }
    unreachable!("the loop returns on the last page")
}
