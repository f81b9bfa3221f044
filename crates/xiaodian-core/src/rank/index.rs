//! The in-memory search index: shops, products as columns, and an inverted index over three
//! text fields (title, shop name, brand).
//!
//! Writes are incremental. A product upsert marks the old document dead and appends a new one;
//! a delete marks it dead. Postings lists are sorted by document number because new documents
//! always get the next number; dead documents stay in the lists (readers skip them) until
//! [`Index::maybe_compact`] renumbers the live ones once the dead outnumber them.
//!
//! Invariants (checked by the tests):
//! - `by_product_id` maps exactly the live products to their live document;
//! - `total_len[f]` is the sum of the field lengths of the live documents;
//! - `term.df[mask]` counts the live documents whose fields in `mask` contain the term;
//! - documents `0..ascending_ids` are in product-id order;
//! - a term's presence bitset, when it has one, has exactly the documents of its postings.

use super::approximate::SoundIndex;
use crate::error::{CoreError, CoreResult};
use crate::text::{normalize, Analyzer};

/// Hash maps keyed by terms and ids: foldhash is several times faster than the default
/// SipHash on short keys, and the keys come from our own catalog, not from attackers
/// choosing collisions (the seed is still random per process).
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The indexed text fields, in the order every per-field array uses.
pub const FIELDS: [&str; 3] = ["title", "shop_name", "brand"];
pub const TITLE: usize = 0;
pub const SHOP_NAME: usize = 1;
pub const BRAND: usize = 2;

/// A field length or term frequency is stored in one byte. Titles (60 characters), shop names
/// (50) and brands (30) stay far below it; longer text saturates instead of wrapping.
pub const MAX_FIELD_COUNT: u8 = u8::MAX;

/// A shop as search sees it (validated by the service).
#[derive(Debug, Clone, PartialEq)]
pub struct ShopRecord {
    pub shop_id: String,
    pub name: String,
    pub is_brand: bool,
    /// Seconds since the Unix epoch.
    pub opened_at_s: i64,
    /// 店铺体验分, 0–5.
    pub experience_score: f64,
    pub experience_review_count: u32,
}

/// A product as search sees it (validated by the service).
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRecord {
    pub product_id: String,
    pub shop_id: String,
    pub title: String,
    pub brand: String,
    pub category_id: String,
    pub price_fen: i64,
    pub sales_30d: i64,
    pub stock: i64,
    pub rating_sum: i64,
    pub rating_count: i64,
    /// Hero-image quality in [0, 1]; 0 without a hero image.
    pub hero_quality: f64,
    /// Hero-image dHash, if the product has a hero image.
    pub dhash: Option<u64>,
    /// Seconds since the Unix epoch.
    pub listed_at_s: i64,
}

/// One document's occurrences of one term: how often it appears in each field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Posting {
    pub doc: u32,
    pub tf: [u8; 3],
    /// The document's title length (its `lens[0]`), kept here, in what would be padding, so
    /// that scoring a title-only posting reads no document column.
    pub title_len: u8,
}

impl Posting {
    /// Bit `f` set when field `f` contains the term.
    #[inline(always)]
    pub fn field_mask(&self) -> usize {
        usize::from(self.tf[0] > 0)
            | usize::from(self.tf[1] > 0) << 1
            | usize::from(self.tf[2] > 0) << 2
    }
}

/// Postings per block of [`BlockBound`]s.
pub const BLOCK: usize = 32;

/// What bounds the score of every posting of one block: the largest term frequency and the
/// shortest field length per field (the BM25F term score grows with the first and shrinks
/// with the second). Dead documents may still count; the bound stays an upper bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockBound {
    pub max_tf: [u8; 3],
    pub min_len: [u8; 3],
}

impl BlockBound {
    fn of(posting: &Posting, lens: &[u8; 3]) -> Self {
        Self {
            max_tf: posting.tf,
            min_len: *lens,
        }
    }

    fn widen(&mut self, posting: &Posting, lens: &[u8; 3]) {
        for (max_tf, tf) in self.max_tf.iter_mut().zip(posting.tf) {
            *max_tf = (*max_tf).max(tf);
        }
        for (min_len, &len) in self.min_len.iter_mut().zip(lens) {
            *min_len = (*min_len).min(len);
        }
    }
}

/// A term is *dense* once it is in at least 1/`DENSE_FRACTION` of the documents (and in
/// [`MIN_DENSE_POSTINGS`]); a dense term also keeps a presence bitset ([`Term::bits`]), so that
/// counting and intersecting with it reads a bit per document instead of a posting.
pub const DENSE_FRACTION: usize = 32;
/// Fewest postings of a dense term.
pub const MIN_DENSE_POSTINGS: usize = 16;

/// A term of the dictionary.
#[derive(Debug, Default)]
pub(crate) struct Term {
    /// Sorted by `doc`; may contain dead documents.
    pub postings: Vec<Posting>,
    /// Empty, or (for a dense term) bit `d % 64` of word `d / 64` set exactly when document `d`
    /// has a posting (live or dead); words past the end are zero. A term becomes dense as it
    /// grows past 1/[`DENSE_FRACTION`] of the documents and stops being dense below half that
    /// share, so its bitset (a bit per document up to its last) never takes more memory than
    /// its postings (8 bytes each).
    pub bits: Vec<u64>,
    /// `blocks[i]` bounds `postings[i * BLOCK..(i + 1) * BLOCK]`.
    pub blocks: Vec<BlockBound>,
    /// Bounds every posting (the union of the blocks' bounds).
    pub whole: Option<BlockBound>,
    /// `df[mask]`: live documents containing the term in at least one field of `mask`
    /// (bit 0 title, bit 1 shop name, bit 2 brand). `df[0]` is always 0.
    pub df: [u32; 8],
}

impl Term {
    /// True when the term keeps a presence bitset.
    #[inline(always)]
    pub fn is_dense(&self) -> bool {
        !self.bits.is_empty()
    }

    /// True when `doc` has a posting; only for a dense term.
    #[inline(always)]
    pub fn has(&self, doc: u32) -> bool {
        debug_assert!(self.is_dense());
        self.bits_word(doc as usize / 64) & 1 << (doc % 64) != 0
    }

    /// Bits `64 * word .. 64 * word + 64` of [`Term::bits`].
    #[inline(always)]
    pub fn bits_word(&self, word: usize) -> u64 {
        self.bits.get(word).copied().unwrap_or(0)
    }

    /// Adds a posting for a document after all of the term's others; `doc_count` counts every
    /// document (live or dead) once this one is added.
    fn push(&mut self, posting: Posting, lens: &[u8; 3], doc_count: usize) {
        debug_assert_eq!(posting.title_len, lens[0]);
        match &mut self.whole {
            Some(bound) => bound.widen(&posting, lens),
            None => self.whole = Some(BlockBound::of(&posting, lens)),
        }
        if self.postings.len().is_multiple_of(BLOCK) {
            self.blocks.push(BlockBound::of(&posting, lens));
        } else if let Some(bound) = self.blocks.last_mut() {
            bound.widen(&posting, lens);
        }
        self.postings.push(posting);
        let len = self.postings.len();
        if !self.is_dense() {
            if len >= MIN_DENSE_POSTINGS && len * DENSE_FRACTION >= doc_count {
                for p in &self.postings {
                    set_bit(&mut self.bits, p.doc);
                }
            }
        } else if len * 2 * DENSE_FRACTION < doc_count {
            self.bits = Vec::new();
        } else {
            set_bit(&mut self.bits, posting.doc);
        }
    }
}

fn set_bit(bits: &mut Vec<u64>, doc: u32) {
    let word = doc as usize / 64;
    if word >= bits.len() {
        bits.resize(word + 1, 0);
    }
    bits[word] |= 1 << (doc % 64);
}

#[derive(Debug)]
pub(crate) struct Shop {
    pub record: ShopRecord,
    /// `normalize(name)` with whitespace runs folded to one space and trimmed: a query equal
    /// to it names this shop exactly.
    pub folded_name: String,
    pub name_tokens: Vec<String>,
}

/// The first 8 bytes of a product id, big-endian, zero-padded: comparing two prefixes orders
/// ids like comparing the ids, except when the prefixes are equal (ids have no NUL).
pub(crate) fn id_prefix(product_id: &str) -> u64 {
    let mut prefix = [0u8; 8];
    let id = product_id.as_bytes();
    let n = id.len().min(8);
    prefix[..n].copy_from_slice(&id[..n]);
    u64::from_be_bytes(prefix)
}

/// The numbers of a product that the second phase, the sorts and the filters read, in one
/// cache line (aligned to one, so reading them is one cache miss), so the hot loops never
/// touch the strings of [`ProductRecord`].
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Features {
    pub price_fen: i64,
    pub sales_30d: i64,
    pub stock: i64,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub listed_at_s: i64,
    pub hero_quality: f64,
    /// ln(1 + max(sales_30d, 0)), the second phase's sales signal, computed once here.
    pub sales_log: f64,
}

impl Features {
    fn of(record: &ProductRecord) -> Self {
        Self {
            price_fen: record.price_fen,
            sales_30d: record.sales_30d,
            stock: record.stock,
            rating_sum: record.rating_sum,
            rating_count: record.rating_count,
            listed_at_s: record.listed_at_s,
            hero_quality: record.hero_quality,
            sales_log: (record.sales_30d.max(0) as f64).ln_1p(),
        }
    }
}

/// Product columns, one entry per document (live or dead).
#[derive(Debug, Default)]
pub(crate) struct Docs {
    pub alive: Vec<bool>,
    pub shop: Vec<u32>,
    pub category: Vec<u32>,
    pub lens: Vec<[u8; 3]>,
    /// [`id_prefix`] of each product: its own dense column, read on every tie-break.
    pub id_prefix: Vec<u64>,
    pub features: Vec<Features>,
    pub records: Vec<ProductRecord>,
}

/// Folds text for the exact shop-name comparison.
pub fn fold_name(text: &str) -> String {
    normalize(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn saturating_len(tokens: &[&str]) -> u8 {
    u8::try_from(tokens.len()).unwrap_or(MAX_FIELD_COUNT)
}

/// What a document gives the index: each distinct token with its frequency per field, the
/// field lengths, and the title's distinct phrases (`Analyzer::token_and_phrase_slices`).
struct DocumentTerms<'a> {
    counts: Vec<(&'a str, [u8; 3])>,
    lens: [u8; 3],
    phrases: Vec<&'a str>,
}

/// The [`DocumentTerms`] of a product (its phrases only with `title_phrases`). `title` and
/// `brand` are normalised text; `shop_name` the shop's tokens.
fn document_terms<'a>(
    analyzer: &Analyzer,
    title: &'a str,
    shop_name: &'a [String],
    brand: &'a str,
    title_phrases: bool,
) -> DocumentTerms<'a> {
    let mut fields: [Vec<&'a str>; 3] = [
        Vec::new(),
        shop_name.iter().map(String::as_str).collect(),
        Vec::new(),
    ];
    let mut phrases = Vec::new();
    if title_phrases {
        analyzer.token_and_phrase_slices(title, &mut fields[TITLE], &mut phrases);
    } else {
        analyzer.token_slices(title, &mut fields[TITLE]);
    }
    phrases.sort_unstable();
    phrases.dedup();
    analyzer.token_slices(brand, &mut fields[BRAND]);
    let lens = [
        saturating_len(&fields[TITLE]),
        saturating_len(&fields[SHOP_NAME]),
        saturating_len(&fields[BRAND]),
    ];
    let mut all: Vec<(&str, usize)> = fields
        .iter()
        .enumerate()
        .flat_map(|(f, tokens)| tokens.iter().map(move |&t| (t, f)))
        .collect();
    all.sort_unstable();
    let mut counts: Vec<(&str, [u8; 3])> = Vec::with_capacity(all.len());
    for (token, field) in all {
        match counts.last_mut() {
            Some((last, tf)) if *last == token => tf[field] = tf[field].saturating_add(1),
            _ => {
                let mut tf = [0u8; 3];
                tf[field] = 1;
                counts.push((token, tf));
            }
        }
    }
    DocumentTerms {
        counts,
        lens,
        phrases,
    }
}

/// A title phrase's live products and their popularity (Σ 1 + max(sales_30d, 0)).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PhraseStat {
    pub products: u32,
    pub popularity: u64,
}

/// What a product selling `sales_30d` adds to the popularity of what it has (Suggest).
pub(crate) fn popularity(sales_30d: i64) -> u64 {
    1 + sales_30d.max(0) as u64
}

pub struct Index {
    pub(crate) analyzer: Analyzer,
    pub(crate) shops: Vec<Shop>,
    pub(crate) shop_by_id: HashMap<String, u32>,
    /// Shops by folded name (names need not be unique).
    pub(crate) shops_by_folded_name: HashMap<String, Vec<u32>>,
    pub(crate) categories: Vec<String>,
    pub(crate) category_by_id: HashMap<String, u32>,
    pub(crate) docs: Docs,
    pub(crate) by_product_id: HashMap<String, u32>,
    pub(crate) terms: Vec<Term>,
    pub(crate) term_by_text: HashMap<String, u32>,
    /// The phrases of live products' titles (`Analyzer::token_and_phrase_slices`), for Suggest
    /// and approximate matching; none without approximate matching
    /// ([`Index::without_approximate`]).
    pub(crate) phrases: HashMap<Box<str>, PhraseStat>,
    /// The terms by sound and spelling, for approximate matching; None with it off.
    pub(crate) sound: Option<SoundIndex>,
    pub(crate) total_len: [u64; 3],
    pub(crate) dead: usize,
    /// Documents `0..ascending_ids` (live or dead) have strictly increasing product ids (as
    /// when a catalog is loaded in id order), so among them document order is id order and the
    /// product-id tie-break compares document numbers.
    pub(crate) ascending_ids: u32,
}

impl Index {
    pub fn new(analyzer: Analyzer) -> Self {
        Self {
            analyzer,
            shops: Vec::new(),
            shop_by_id: HashMap::default(),
            shops_by_folded_name: HashMap::default(),
            categories: Vec::new(),
            category_by_id: HashMap::default(),
            docs: Docs::default(),
            by_product_id: HashMap::default(),
            terms: Vec::new(),
            term_by_text: HashMap::default(),
            phrases: HashMap::default(),
            sound: Some(SoundIndex::default()),
            total_len: [0; 3],
            dead: 0,
            ascending_ids: 0,
        }
    }

    /// An index without approximate matching (no pinyin, same-sound or typo matches) and
    /// without title phrases (Suggest offers words, shop names and brands only): indexing as
    /// it was before them, what the benchmarks compare their cost with.
    pub fn without_approximate(analyzer: Analyzer) -> Self {
        Self {
            sound: None,
            ..Self::new(analyzer)
        }
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// True when titles give phrases (with approximate matching).
    pub(crate) fn keeps_title_phrases(&self) -> bool {
        self.sound.is_some()
    }

    /// The term of the dictionary with this text.
    pub(crate) fn term(&self, text: &str) -> Option<&Term> {
        self.term_by_text
            .get(text)
            .map(|&id| &self.terms[id as usize])
    }

    /// Number of live products.
    pub fn product_count(&self) -> usize {
        self.by_product_id.len()
    }

    pub fn shop_count(&self) -> usize {
        self.shops.len()
    }

    /// The live product with this id.
    pub fn product(&self, product_id: &str) -> Option<&ProductRecord> {
        self.by_product_id
            .get(product_id)
            .map(|&doc| &self.docs.records[doc as usize])
    }

    /// Creates or replaces shops. A renamed shop's products are re-indexed under the new name.
    pub fn upsert_shops(&mut self, shops: Vec<ShopRecord>) {
        let mut renamed: Vec<u32> = Vec::new();
        for record in shops {
            let folded_name = fold_name(&record.name);
            match self.shop_by_id.get(&record.shop_id) {
                Some(&idx) => {
                    let shop = &mut self.shops[idx as usize];
                    // A renamed shop's name tokens are renewed below, once its products have
                    // been taken out of the index under the old ones.
                    if shop.record.name != record.name && !renamed.contains(&idx) {
                        renamed.push(idx);
                    }
                    if let Some(same) = self.shops_by_folded_name.get_mut(&shop.folded_name) {
                        same.retain(|&other| other != idx);
                    }
                    self.shops_by_folded_name
                        .entry(folded_name.clone())
                        .or_default()
                        .push(idx);
                    shop.record = record;
                    shop.folded_name = folded_name;
                }
                None => {
                    let idx = self.shops.len() as u32;
                    self.shop_by_id.insert(record.shop_id.clone(), idx);
                    self.shops_by_folded_name
                        .entry(folded_name.clone())
                        .or_default()
                        .push(idx);
                    let name_tokens = self.analyzer.tokens(&record.name);
                    self.shops.push(Shop {
                        record,
                        folded_name,
                        name_tokens,
                    });
                }
            }
        }
        if renamed.is_empty() {
            return;
        }
        let affected: Vec<u32> = (0..self.docs.alive.len() as u32)
            .filter(|&doc| {
                self.docs.alive[doc as usize] && renamed.contains(&self.docs.shop[doc as usize])
            })
            .collect();
        let records: Vec<ProductRecord> = affected
            .iter()
            .map(|&doc| self.docs.records[doc as usize].clone())
            .collect();
        for &doc in &affected {
            self.kill(doc);
        }
        for &idx in &renamed {
            let shop = &mut self.shops[idx as usize];
            shop.name_tokens = self.analyzer.tokens(&shop.record.name);
        }
        for record in records {
            self.append(record)
                .expect("the shop of a live product exists");
        }
        self.maybe_compact();
    }

    /// Creates or replaces products (the service has already dropped stale versions). Fails
    /// without changing anything when a product names an unknown shop.
    pub fn upsert_products(&mut self, products: Vec<ProductRecord>) -> CoreResult<()> {
        if let Some(p) = products
            .iter()
            .find(|p| !self.shop_by_id.contains_key(&p.shop_id))
        {
            return Err(CoreError::FailedPrecondition(format!(
                "product {} names unknown shop {}",
                p.product_id, p.shop_id
            )));
        }
        for record in products {
            if let Some(&old) = self.by_product_id.get(&record.product_id) {
                self.kill(old);
            }
            self.append(record)?;
        }
        self.maybe_compact();
        Ok(())
    }

    /// Removes products; returns how many were present.
    pub fn delete_products(&mut self, product_ids: &[String]) -> usize {
        let mut deleted = 0;
        for id in product_ids {
            if let Some(&doc) = self.by_product_id.get(id) {
                self.kill(doc);
                deleted += 1;
            }
        }
        self.maybe_compact();
        deleted
    }

    fn append(&mut self, record: ProductRecord) -> CoreResult<()> {
        let shop = *self.shop_by_id.get(&record.shop_id).ok_or_else(|| {
            CoreError::FailedPrecondition(format!("unknown shop {}", record.shop_id))
        })?;
        let doc = u32::try_from(self.docs.alive.len())
            .map_err(|_| CoreError::FailedPrecondition("index is full".to_owned()))?;
        let title = normalize(&record.title);
        let brand = normalize(&record.brand);
        let shop_name = &self.shops[shop as usize].name_tokens;
        let DocumentTerms {
            counts,
            lens,
            phrases,
        } = document_terms(
            &self.analyzer,
            &title,
            shop_name,
            &brand,
            self.keeps_title_phrases(),
        );
        let weight = popularity(record.sales_30d);
        for phrase in phrases {
            let stat = match self.phrases.get_mut(phrase) {
                Some(stat) => stat,
                None => {
                    if let Some(sound) = &mut self.sound {
                        sound.add_phrase(phrase);
                    }
                    self.phrases.entry(phrase.into()).or_default()
                }
            };
            stat.products += 1;
            stat.popularity += weight;
        }
        for (text, tf) in counts {
            let term_id = match self.term_by_text.get(text) {
                Some(&id) => id,
                None => {
                    let id = self.terms.len() as u32;
                    self.terms.push(Term::default());
                    self.term_by_text.insert(text.to_owned(), id);
                    if let Some(sound) = &mut self.sound {
                        sound.add_term(text, &self.analyzer);
                    }
                    id
                }
            };
            let term = &mut self.terms[term_id as usize];
            let posting = Posting {
                doc,
                tf,
                title_len: lens[0],
            };
            add_to_df(&mut term.df, posting.field_mask(), 1);
            term.push(posting, &lens, doc as usize + 1);
        }
        let category = match self.category_by_id.get(&record.category_id) {
            Some(&c) => c,
            None => {
                let c = self.categories.len() as u32;
                self.categories.push(record.category_id.clone());
                self.category_by_id.insert(record.category_id.clone(), c);
                c
            }
        };
        for (f, len) in lens.iter().enumerate() {
            self.total_len[f] += u64::from(*len);
        }
        if self.ascending_ids == doc
            && self
                .docs
                .records
                .last()
                .is_none_or(|last| last.product_id < record.product_id)
        {
            self.ascending_ids += 1;
        }
        self.by_product_id.insert(record.product_id.clone(), doc);
        self.docs.alive.push(true);
        self.docs.shop.push(shop);
        self.docs.category.push(category);
        self.docs.lens.push(lens);
        self.docs.id_prefix.push(id_prefix(&record.product_id));
        self.docs.features.push(Features::of(&record));
        self.docs.records.push(record);
        Ok(())
    }

    /// Marks a live document dead and takes it out of the statistics.
    fn kill(&mut self, doc: u32) {
        let d = doc as usize;
        debug_assert!(self.docs.alive[d]);
        let record = &self.docs.records[d];
        let title = normalize(&record.title);
        let brand = normalize(&record.brand);
        let shop_name = &self.shops[self.docs.shop[d] as usize].name_tokens;
        let DocumentTerms {
            counts,
            lens,
            phrases,
        } = document_terms(
            &self.analyzer,
            &title,
            shop_name,
            &brand,
            self.keeps_title_phrases(),
        );
        let weight = popularity(record.sales_30d);
        for phrase in phrases {
            let stat = self
                .phrases
                .get_mut(phrase)
                .expect("a live product's phrases are counted");
            stat.products -= 1;
            stat.popularity -= weight;
            if stat.products == 0 {
                self.phrases.remove(phrase);
            }
        }
        for (text, tf) in counts {
            let term = &mut self.terms[self.term_by_text[text] as usize];
            let posting = Posting {
                doc,
                tf,
                title_len: lens[0],
            };
            add_to_df(&mut term.df, posting.field_mask(), -1);
        }
        for (f, len) in lens.iter().enumerate() {
            self.total_len[f] -= u64::from(*len);
        }
        self.by_product_id.remove(&record.product_id);
        self.docs.alive[d] = false;
        self.dead += 1;
    }

    /// Renumbers the live documents and drops dead postings once the dead outnumber the live
    /// (and are at least a few thousand), so the amortised cost of a write stays constant.
    pub fn maybe_compact(&mut self) {
        if self.dead >= 4096 && self.dead > self.product_count() {
            self.compact();
        }
    }

    /// Renumbers the live documents densely, keeping their order, and drops dead postings and
    /// terms left without postings.
    pub fn compact(&mut self) {
        let old = std::mem::take(&mut self.docs);
        let mut new_number = vec![u32::MAX; old.alive.len()];
        let mut next = 0u32;
        for (doc, ((((((alive, shop), category), lens), prefix), features), record)) in old
            .alive
            .into_iter()
            .zip(old.shop)
            .zip(old.category)
            .zip(old.lens)
            .zip(old.id_prefix)
            .zip(old.features)
            .zip(old.records)
            .enumerate()
        {
            if alive {
                new_number[doc] = next;
                next += 1;
                self.docs.alive.push(true);
                self.docs.shop.push(shop);
                self.docs.category.push(category);
                self.docs.lens.push(lens);
                self.docs.id_prefix.push(prefix);
                self.docs.features.push(features);
                self.by_product_id
                    .insert(record.product_id.clone(), new_number[doc]);
                self.docs.records.push(record);
            }
        }
        let old_terms = std::mem::take(&mut self.terms);
        let old_texts = std::mem::take(&mut self.term_by_text);
        let mut text_of: Vec<Option<String>> = vec![None; old_terms.len()];
        for (text, id) in old_texts {
            text_of[id as usize] = Some(text);
        }
        let doc_count = self.docs.alive.len();
        if let Some(sound) = &mut self.sound {
            *sound = SoundIndex::default();
        }
        for (term, text) in old_terms.into_iter().zip(text_of) {
            let mut compacted = Term {
                df: term.df,
                ..Term::default()
            };
            for p in term.postings {
                let doc = new_number[p.doc as usize];
                if doc != u32::MAX {
                    compacted.push(
                        Posting { doc, ..p },
                        &self.docs.lens[doc as usize],
                        doc_count,
                    );
                }
            }
            if compacted.postings.is_empty() {
                continue;
            }
            let id = self.terms.len() as u32;
            self.terms.push(compacted);
            let text = text.expect("every term has a text");
            if let Some(sound) = &mut self.sound {
                sound.add_term(&text, &self.analyzer);
            }
            self.term_by_text.insert(text, id);
        }
        if let Some(sound) = &mut self.sound {
            for phrase in self.phrases.keys() {
                sound.add_phrase(phrase);
            }
        }
        self.dead = 0;
        self.ascending_ids = 1 + self
            .docs
            .records
            .windows(2)
            .take_while(|pair| pair[0].product_id < pair[1].product_id)
            .count() as u32;
        self.ascending_ids = self.ascending_ids.min(self.docs.records.len() as u32);
    }
}

fn add_to_df(df: &mut [u32; 8], field_mask: usize, delta: i32) {
    for (mask, count) in df.iter_mut().enumerate() {
        if mask & field_mask != 0 {
            *count = count.wrapping_add_signed(delta);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::text::AnalysisMode;

    pub fn shop(id: &str, name: &str) -> ShopRecord {
        ShopRecord {
            shop_id: id.to_owned(),
            name: name.to_owned(),
            is_brand: false,
            opened_at_s: 0,
            experience_score: 4.0,
            experience_review_count: 0,
        }
    }

    pub fn product(id: &str, shop_id: &str, title: &str) -> ProductRecord {
        ProductRecord {
            product_id: id.to_owned(),
            shop_id: shop_id.to_owned(),
            title: title.to_owned(),
            brand: String::new(),
            category_id: "c1".to_owned(),
            price_fen: 100,
            sales_30d: 0,
            stock: 1,
            rating_sum: 0,
            rating_count: 0,
            hero_quality: 0.0,
            dhash: None,
            listed_at_s: 0,
        }
    }

    /// Recomputes every statistic from scratch and compares.
    pub fn check_invariants(index: &Index) {
        let live: Vec<u32> = (0..index.docs.alive.len() as u32)
            .filter(|&d| index.docs.alive[d as usize])
            .collect();
        assert_eq!(live.len(), index.by_product_id.len());
        let ascending = &index.docs.records[..index.ascending_ids as usize];
        assert!(ascending
            .windows(2)
            .all(|pair| pair[0].product_id < pair[1].product_id));
        for &doc in &live {
            let id = &index.docs.records[doc as usize].product_id;
            assert_eq!(index.by_product_id[id], doc);
        }
        // The phrases and their popularity are exactly those of the live titles.
        let mut phrases: std::collections::BTreeMap<String, (u32, u64)> = Default::default();
        for &doc in live.iter().filter(|_| index.keeps_title_phrases()) {
            let record = &index.docs.records[doc as usize];
            let title = normalize(&record.title);
            let (mut tokens, mut found) = (Vec::new(), Vec::new());
            index
                .analyzer
                .token_and_phrase_slices(&title, &mut tokens, &mut found);
            found.sort_unstable();
            found.dedup();
            for phrase in found {
                let entry = phrases.entry(phrase.to_owned()).or_default();
                entry.0 += 1;
                entry.1 += popularity(record.sales_30d);
            }
        }
        let kept: std::collections::BTreeMap<String, (u32, u64)> = index
            .phrases
            .iter()
            .map(|(p, s)| (p.to_string(), (s.products, s.popularity)))
            .collect();
        assert_eq!(kept, phrases);
        for f in 0..3 {
            let total: u64 = live
                .iter()
                .map(|&d| u64::from(index.docs.lens[d as usize][f]))
                .sum();
            assert_eq!(total, index.total_len[f], "field {f}");
        }
        for term in &index.terms {
            assert!(term.postings.windows(2).all(|w| w[0].doc < w[1].doc));
            assert_eq!(term.blocks.len(), term.postings.len().div_ceil(BLOCK));
            for (block, bound) in term.postings.chunks(BLOCK).zip(&term.blocks) {
                for p in block {
                    let lens = &index.docs.lens[p.doc as usize];
                    assert!(
                        (0..3).all(|f| p.tf[f] <= bound.max_tf[f] && lens[f] >= bound.min_len[f])
                    );
                }
            }
            if term.is_dense() {
                // Exactly the postings' documents, and no more memory than the postings.
                let ones: u32 = term.bits.iter().map(|w| w.count_ones()).sum();
                assert_eq!(ones as usize, term.postings.len());
                assert!(term.postings.iter().all(|p| term.has(p.doc)));
                assert!(term.bits.len() * 64 <= term.postings.len() * 2 * DENSE_FRACTION + 64);
            }
            for mask in 1..8 {
                let df = term
                    .postings
                    .iter()
                    .filter(|p| index.docs.alive[p.doc as usize] && p.field_mask() & mask != 0)
                    .count();
                assert_eq!(df as u32, term.df[mask]);
            }
        }
    }

    #[test]
    fn upsert_replace_delete_and_compact_keep_the_statistics() {
        let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
        index.upsert_shops(vec![shop("s1", "山下有松"), shop("s2", "羊绒小店")]);
        let mut products = Vec::new();
        for i in 0..5000 {
            products.push(product(
                &format!("p{i}"),
                if i % 2 == 0 { "s1" } else { "s2" },
                "羊绒围巾女冬季",
            ));
        }
        index.upsert_products(products.clone()).unwrap();
        check_invariants(&index);
        index.upsert_products(products[..100].to_vec()).unwrap();
        assert_eq!(index.product_count(), 5000);
        assert_eq!(index.dead, 100);
        check_invariants(&index);
        let ids: Vec<String> = (0..4500).map(|i| format!("p{i}")).collect();
        assert_eq!(index.delete_products(&ids), 4500);
        // 4,600 dead > 500 live: compacted.
        assert_eq!(index.dead, 0);
        assert_eq!(index.docs.alive.len(), 500);
        check_invariants(&index);
        index.upsert_shops(vec![shop("s1", "新名字")]);
        check_invariants(&index);
        assert!(index.term_by_text.contains_key("名字"));
        let term = &index.terms[index.term_by_text["名字"] as usize];
        assert_eq!(term.df[1 << SHOP_NAME], 250);
    }

    #[test]
    fn unknown_shop_fails_without_writing() {
        let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
        index.upsert_shops(vec![shop("s1", "店")]);
        let err = index
            .upsert_products(vec![
                product("a", "s1", "标题一二三"),
                product("b", "nope", "标题"),
            ])
            .unwrap_err();
        assert!(matches!(err, CoreError::FailedPrecondition(_)));
        assert_eq!(index.product_count(), 0);
    }
}
