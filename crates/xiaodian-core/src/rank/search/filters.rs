//! The request's filter (categories, shops, price range, in stock) compiled against the index:
//! ids resolved to index numbers once per query, then tested per document, or counted over a
//! word of match bits.

use super::request::Filter;
use super::retrieval::for_each_bit;
use crate::rank::index::{HashMap, Index};

/// Product-level checks of the request's filter, with ids resolved to index numbers.
pub(super) struct CompiledFilter {
    /// No filter and no dead document: every document of a posting is accepted.
    accepts_all: bool,
    categories: Option<Vec<u32>>,
    shops: Option<Vec<u32>>,
    min_price_fen: Option<i64>,
    max_price_fen: Option<i64>,
    in_stock_only: bool,
}

impl CompiledFilter {
    /// True when the filter accepts every live product.
    pub(super) fn is_trivial(&self) -> bool {
        self.categories.is_none()
            && self.shops.is_none()
            && self.min_price_fen.is_none()
            && self.max_price_fen.is_none()
            && !self.in_stock_only
    }

    pub(super) fn new(index: &Index, filter: &Filter) -> Self {
        let resolve = |ids: &[String], map: &HashMap<String, u32>| {
            (!ids.is_empty()).then(|| ids.iter().filter_map(|id| map.get(id).copied()).collect())
        };
        let mut compiled = Self {
            accepts_all: false,
            categories: resolve(&filter.category_ids, &index.category_by_id),
            shops: resolve(&filter.shop_ids, &index.shop_by_id),
            min_price_fen: filter.min_price_fen,
            max_price_fen: filter.max_price_fen,
            in_stock_only: filter.in_stock_only,
        };
        compiled.accepts_all = compiled.is_trivial() && index.dead == 0;
        compiled
    }

    /// How many of the 64 documents from `first_doc` whose bits `word` has are accepted.
    #[inline(always)]
    pub(super) fn count_accepted(&self, index: &Index, word: u64, first_doc: u32) -> u64 {
        if self.accepts_all {
            return u64::from(word.count_ones()); // every match counts
        }
        let mut count = 0;
        for_each_bit(word, |bit| {
            count += u64::from(self.accepts(index, first_doc + bit as u32));
        });
        count
    }

    #[inline(always)]
    pub(super) fn accepts(&self, index: &Index, doc: u32) -> bool {
        if self.accepts_all {
            return true;
        }
        let d = doc as usize;
        if !index.docs.alive[d] {
            return false;
        }
        if let Some(categories) = &self.categories {
            if !categories.contains(&index.docs.category[d]) {
                return false;
            }
        }
        if let Some(shops) = &self.shops {
            if !shops.contains(&index.docs.shop[d]) {
                return false;
            }
        }
        if self.min_price_fen.is_none() && self.max_price_fen.is_none() && !self.in_stock_only {
            return true;
        }
        let features = &index.docs.features[d];
        self.min_price_fen
            .is_none_or(|min| features.price_fen >= min)
            && self
                .max_price_fen
                .is_none_or(|max| features.price_fen <= max)
            && (!self.in_stock_only || features.stock > 0)
    }
}
