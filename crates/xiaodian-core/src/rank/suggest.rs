//! Suggest (搜索联想): completions of a prefix typed in Chinese characters, full pinyin or
//! pinyin initials, most popular first. The pure-Python twin is `xiaodian.reference.suggest`.
//!
//! Completions, gathered from an [`Index`] when a [`Suggester`] is built:
//! - title words: the terms found in some live product's title that are Han dictionary words
//!   of 2–[`MAX_WORD_CHARS`] characters or Latin words of 2 or more letters;
//! - title phrases: two dictionary words in a row, the first of 2+ characters (羊绒围巾, 充电宝;
//!   `Analyzer::token_and_phrase_slices`),
//!   kept by the index with their popularity as products come and go (a phrase that is also a
//!   title word counts the larger popularity);
//! - shop names (folded: normalised, whitespace runs as one space) of shops with live products;
//! - brands (folded) of live products.
//!
//! Its popularity is the sum of 1 + max(sales_30d, 0) over the live products that have it (in
//! the title, as their shop, as their brand). One text is one completion: when it comes from
//! several sources, the most popular source names it (ties: title, shop name, brand).
//!
//! Keys: a completion's text without whitespace and punctuation (what [`key_of`] keeps); and
//! when that is all Han, each full-pinyin spelling (syllables run together, every reading
//! combination up to [`MAX_SPELLINGS`], the first readings first) and each spelling's initials.
//! A prefix matches a key that starts with it (after [`key_of`]); a completion scores its
//! popularity through its text and its first spelling, and 1/[`OTHER_READING_DIVISOR`] of it
//! through another reading only. A prefix of Han characters then letters (羊绒w) matches the
//! completions that start with those characters and whose pinyin from there starts with the
//! letters. Completions come best score first (ties by text), each once, with the number of
//! its characters the prefix matched (a syllable typed in part counts its character).

use fst::{IntoStreamer, Map, MapBuilder, Streamer};
use std::collections::{BinaryHeap, HashMap};

use super::index::{fold_name, popularity, Index, TITLE};
use crate::error::{CoreError, CoreResult, FieldViolation};
use crate::text::pinyin;
use crate::text::{is_han, normalize};

/// Longest prefix, in characters.
pub const MAX_PREFIX_CHARS: usize = 30;
/// Most completions a request may ask for.
pub const MAX_SUGGESTIONS: u32 = 20;
/// Longest title word offered, in characters.
pub const MAX_WORD_CHARS: usize = 8;
/// Most pinyin spellings of one completion.
pub const MAX_SPELLINGS: usize = 8;
/// A completion matched through another reading than its first scores its popularity / this.
pub const OTHER_READING_DIVISOR: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SuggestionSource {
    Title,
    ShopName,
    Brand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SuggestionMatch {
    Text,
    Pinyin,
    Initials,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
    /// The prefix matched the first this many characters of `text`.
    pub matched_chars: u32,
    pub source: SuggestionSource,
    pub matched: SuggestionMatch,
    pub popularity: u64,
}

/// The rules of a Suggest request: a prefix of 1–[`MAX_PREFIX_CHARS`] characters, not blank,
/// and 1–[`MAX_SUGGESTIONS`] completions.
pub fn validate(prefix: &str, limit: u32) -> CoreResult<()> {
    let mut violations = Vec::new();
    if prefix.trim().is_empty() {
        violations.push(FieldViolation::new("prefix", "is required"));
    } else if prefix.chars().count() > MAX_PREFIX_CHARS {
        violations.push(FieldViolation::new(
            "prefix",
            format!("must be at most {MAX_PREFIX_CHARS} characters"),
        ));
    }
    if limit == 0 {
        violations.push(FieldViolation::new("limit", "must be at least 1"));
    } else if limit > MAX_SUGGESTIONS {
        violations.push(FieldViolation::new(
            "limit",
            format!("must be at most {MAX_SUGGESTIONS}"),
        ));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(violations))
    }
}

/// What a key keeps of normalised text: letters, digits and Han characters.
pub fn key_of(normalized: &str) -> String {
    normalized.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// One completion with its source and popularity ([`Completions`]).
struct Completion {
    text: String,
    source: SuggestionSource,
    popularity: u64,
}

/// The completions of an index and their keys, ready for prefix lookups. Built from one
/// state of the index; build another to see later writes.
pub struct Suggester {
    completions: Vec<Completion>,
    /// Key bytes + 0 + completion number (4 bytes, big-endian) + match kind → entry number.
    keys: Map<Vec<u8>>,
    /// Per entry, in key order: its completion, how it matches, and its score.
    entry_completion: Vec<u32>,
    entry_match: Vec<SuggestionMatch>,
    /// `tree[n + i]` is entry i; every inner node holds the best entry below it (u32::MAX:
    /// none), best = highest score, then the lower entry.
    tree: Vec<u32>,
    scores: Vec<u64>,
    leaves: usize,
}

impl std::fmt::Debug for Suggester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suggester")
            .field("completions", &self.completions.len())
            .field("entries", &self.entry_completion.len())
            .finish()
    }
}

/// The completions of one state of an index, each with its popularity, sorted by text: what
/// a [`Suggester`] is built from, gathered while the index is read (the rest of a build needs
/// no index).
pub struct Completions(Vec<Completion>);

impl Completions {
    pub fn of(index: &Index) -> Self {
        Self(completions(index))
    }
}

/// The completions of an index, each with its popularity, sorted by text.
fn completions(index: &Index) -> Vec<Completion> {
    let docs = &index.docs;
    let weight = |doc: usize| popularity(docs.features[doc].sales_30d);
    let mut shop_popularity = vec![0u64; index.shops.len()];
    let mut raw_brands: HashMap<&str, u64> = HashMap::new();
    for doc in (0..docs.alive.len()).filter(|&d| docs.alive[d]) {
        shop_popularity[docs.shop[doc] as usize] += weight(doc);
        let brand = docs.records[doc].brand.as_str();
        if !brand.trim().is_empty() {
            *raw_brands.entry(brand).or_default() += weight(doc);
        }
    }
    let mut by_text: HashMap<(String, SuggestionSource), u64> = HashMap::new();
    for (raw, popularity) in raw_brands {
        *by_text
            .entry((fold_name(raw), SuggestionSource::Brand))
            .or_default() += popularity;
    }
    for (shop, popularity) in index.shops.iter().zip(&shop_popularity) {
        if *popularity > 0 {
            *by_text
                .entry((shop.folded_name.clone(), SuggestionSource::ShopName))
                .or_default() += popularity;
        }
    }
    for (text, &id) in &index.term_by_text {
        let chars = text.chars().count();
        let word = if text.chars().all(is_han) {
            (2..=MAX_WORD_CHARS).contains(&chars) && index.analyzer.is_dictionary_word(text)
        } else {
            chars >= 2 && text.chars().all(char::is_alphabetic)
        };
        if !word {
            continue;
        }
        let popularity: u64 = index.terms[id as usize]
            .postings
            .iter()
            .filter(|p| p.tf[TITLE] > 0 && docs.alive[p.doc as usize])
            .map(|p| weight(p.doc as usize))
            .sum();
        if popularity > 0 {
            by_text.insert((text.clone(), SuggestionSource::Title), popularity);
        }
    }
    for (phrase, stat) in &index.phrases {
        let entry = by_text
            .entry((phrase.to_string(), SuggestionSource::Title))
            .or_default();
        *entry = (*entry).max(stat.popularity);
    }
    let mut all: Vec<((String, SuggestionSource), u64)> = by_text.into_iter().collect();
    // By text, then the most popular source first (ties: title, shop name, brand).
    all.sort_by(|((a, sa), pa), ((b, sb), pb)| a.cmp(b).then(pb.cmp(pa)).then(sa.cmp(sb)));
    let mut out: Vec<Completion> = Vec::new();
    for ((text, source), popularity) in all {
        if text.is_empty() || out.last().is_some_and(|c: &Completion| c.text == text) {
            continue;
        }
        out.push(Completion {
            text,
            source,
            popularity,
        });
    }
    out
}

impl Suggester {
    pub fn build(index: &Index) -> Self {
        Self::from_completions(Completions::of(index))
    }

    /// A suggester of completions gathered before.
    pub fn from_completions(completions: Completions) -> Self {
        let Completions(completions) = completions;
        // (key, completion, match, first reading)
        let mut entries: Vec<(Vec<u8>, SuggestionMatch, bool)> = Vec::new();
        let mut owner: Vec<u32> = Vec::new();
        for (id, c) in completions.iter().enumerate() {
            let id = id as u32;
            let text_key = key_of(&c.text);
            let mut keys: Vec<(String, SuggestionMatch, bool)> =
                vec![(text_key.clone(), SuggestionMatch::Text, true)];
            if text_key.chars().all(is_han) {
                for (k, spelling) in pinyin::spellings(&text_key, MAX_SPELLINGS)
                    .iter()
                    .enumerate()
                {
                    let initials: String = spelling
                        .iter()
                        .map(|&s| pinyin::initial(s) as char)
                        .collect();
                    keys.push((pinyin::spelled(spelling), SuggestionMatch::Pinyin, k == 0));
                    keys.push((initials, SuggestionMatch::Initials, k == 0));
                }
            }
            // One entry per key text: the first reading's, else the first seen.
            let mut seen: Vec<&str> = Vec::new();
            let mut firsts: Vec<&(String, SuggestionMatch, bool)> = Vec::new();
            for key in &keys {
                if let Some(at) = seen.iter().position(|s| *s == key.0) {
                    if key.2 && !firsts[at].2 {
                        firsts[at] = key;
                    }
                    continue;
                }
                seen.push(&key.0);
                firsts.push(key);
            }
            for (key, matched, first) in firsts {
                let mut bytes = key.clone().into_bytes();
                bytes.push(0);
                bytes.extend_from_slice(&id.to_be_bytes());
                bytes.push(*matched as u8);
                entries.push((bytes, *matched, *first));
                owner.push(id);
            }
        }
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
        let mut builder = MapBuilder::memory();
        let mut entry_completion = Vec::with_capacity(order.len());
        let mut entry_match = Vec::with_capacity(order.len());
        let mut scores = Vec::with_capacity(order.len());
        for (ordinal, &e) in order.iter().enumerate() {
            let (key, matched, first) = &entries[e];
            builder
                .insert(key, ordinal as u64)
                .expect("keys are distinct and sorted");
            let popularity = completions[owner[e] as usize].popularity;
            entry_completion.push(owner[e]);
            entry_match.push(*matched);
            scores.push(if *first {
                popularity
            } else {
                popularity / OTHER_READING_DIVISOR
            });
        }
        let keys =
            Map::new(builder.into_inner().expect("an in-memory map")).expect("a map just built");
        let leaves = scores.len().next_power_of_two().max(1);
        let mut tree = vec![u32::MAX; 2 * leaves];
        for i in 0..scores.len() {
            tree[leaves + i] = i as u32;
        }
        let mut suggester = Self {
            completions,
            keys,
            entry_completion,
            entry_match,
            tree: Vec::new(),
            scores,
            leaves,
        };
        for node in (1..leaves).rev() {
            tree[node] = suggester.better(tree[2 * node], tree[2 * node + 1]);
        }
        suggester.tree = tree;
        suggester
    }

    /// Number of completions.
    pub fn len(&self) -> usize {
        self.completions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.completions.is_empty()
    }

    /// The better of two entries (u32::MAX: none): the higher score, then the lower entry.
    fn better(&self, a: u32, b: u32) -> u32 {
        match (a, b) {
            (u32::MAX, _) => b,
            (_, u32::MAX) => a,
            _ if self.scores[b as usize] > self.scores[a as usize] => b,
            _ => a,
        }
    }

    /// The entries whose keys start with `prefix`: a range of entry numbers.
    fn range(&self, prefix: &[u8]) -> (usize, usize) {
        let first_at_or_after = |key: &[u8]| -> usize {
            self.keys
                .range()
                .ge(key)
                .into_stream()
                .next()
                .map_or(self.scores.len(), |(_, v)| v as usize)
        };
        let lo = first_at_or_after(prefix);
        // The smallest key above every key that starts with the prefix: its last byte below
        // 0xFF raised by one (a UTF-8 prefix never ends in 0xFF).
        let mut above = prefix.to_vec();
        while above.last() == Some(&0xFF) {
            above.pop();
        }
        let hi = match above.last_mut() {
            Some(last) => {
                *last += 1;
                first_at_or_after(&above)
            }
            None => self.scores.len(),
        };
        (lo, hi.max(lo))
    }

    /// Calls `take(entry)` for the entries of `lo..hi`, best first, until it returns false.
    fn best_first(&self, lo: usize, hi: usize, mut take: impl FnMut(u32) -> bool) {
        let key = |entry: u32| (self.scores[entry as usize], std::cmp::Reverse(entry));
        let mut heap: BinaryHeap<((u64, std::cmp::Reverse<u32>), usize)> = BinaryHeap::new();
        let (mut l, mut h) = (lo + self.leaves, hi + self.leaves);
        while l < h {
            if l & 1 == 1 {
                heap.push((key(self.tree[l]), l));
                l += 1;
            }
            if h & 1 == 1 {
                h -= 1;
                heap.push((key(self.tree[h]), h));
            }
            l >>= 1;
            h >>= 1;
        }
        while let Some((_, node)) = heap.pop() {
            let entry = self.tree[node];
            if entry == u32::MAX {
                continue;
            }
            if !take(entry) {
                return;
            }
            // Down to the entry's leaf, offering each sibling left on the way.
            let mut at = node;
            while at < self.leaves {
                let (left, right) = (2 * at, 2 * at + 1);
                let (down, other) = if self.tree[left] == entry {
                    (left, right)
                } else {
                    (right, left)
                };
                if self.tree[other] != u32::MAX {
                    heap.push((key(self.tree[other]), other));
                }
                at = down;
            }
        }
    }

    /// Up to `limit` completions of `prefix` (checked by [`validate`]), best first.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Vec<Suggestion> {
        let key = key_of(&normalize(prefix));
        if key.is_empty() {
            return Vec::new();
        }
        // (score, completion, match, the Han characters a mixed prefix starts with)
        let mut found: Vec<(u64, u32, SuggestionMatch, usize)> = Vec::new();
        let gather = |lo: usize, hi: usize, han: &str, found: &mut Vec<_>| {
            let han_chars = han.chars().count();
            self.best_first(lo, hi, |entry| {
                let c = self.entry_completion[entry as usize];
                let text = &self.completions[c as usize].text;
                if text.starts_with(han) && !found.iter().any(|f: &(u64, u32, _, _)| f.1 == c) {
                    found.push((
                        self.scores[entry as usize],
                        c,
                        self.entry_match[entry as usize],
                        han_chars,
                    ));
                }
                found.len() < limit
            });
        };
        let (lo, hi) = self.range(key.as_bytes());
        gather(lo, hi, "", &mut found);
        // Han characters, then letters: the characters' readings, then the letters.
        let han_end = key
            .char_indices()
            .find(|&(_, c)| !is_han(c))
            .map_or(key.len(), |(i, _)| i);
        let (han, letters) = key.split_at(han_end);
        if !han.is_empty() && !letters.is_empty() && letters.bytes().all(|b| b.is_ascii_lowercase())
        {
            for spelling in pinyin::spellings(han, MAX_SPELLINGS) {
                let mixed = format!("{}{letters}", pinyin::spelled(&spelling));
                let (lo, hi) = self.range(mixed.as_bytes());
                let mut more = Vec::new();
                gather(lo, hi, han, &mut more);
                for m in more {
                    if !found.iter().any(|f| f.1 == m.1) {
                        found.push(m);
                    }
                }
            }
        }
        found.sort_by(|a, b| {
            b.0.cmp(&a.0).then_with(|| {
                self.completions[a.1 as usize]
                    .text
                    .cmp(&self.completions[b.1 as usize].text)
            })
        });
        found.truncate(limit);
        found
            .into_iter()
            .map(|(_, c, matched, han_chars)| {
                let completion = &self.completions[c as usize];
                let matched_chars = if han_chars > 0 {
                    matched_chars(
                        &completion.text,
                        letters,
                        SuggestionMatch::Pinyin,
                        han_chars,
                    )
                } else {
                    matched_chars(&completion.text, &key, matched, 0)
                };
                Suggestion {
                    text: completion.text.clone(),
                    matched_chars,
                    source: completion.source,
                    matched,
                    popularity: completion.popularity,
                }
            })
            .collect()
    }
}

/// How many characters of `text` a prefix `key` matched, after its first `skip` characters
/// (matched already), counting whitespace and punctuation as they pass: by text, a key
/// character a character; by initials, a letter a character; by pinyin, every character whose
/// syllable the key reaches.
fn matched_chars(text: &str, key: &str, matched: SuggestionMatch, skip: usize) -> u32 {
    let chars: Vec<char> = text.chars().collect();
    // The positions in `chars` of the key characters after `skip`.
    let keyed: Vec<usize> = (skip..chars.len())
        .filter(|&i| chars[i].is_alphanumeric())
        .collect();
    let reached = match matched {
        SuggestionMatch::Text => key.chars().count(),
        SuggestionMatch::Initials => key.len(),
        SuggestionMatch::Pinyin => {
            let han: String = keyed.iter().map(|&i| chars[i]).collect();
            let spellings = pinyin::spellings(&han, MAX_SPELLINGS);
            let spelling = spellings
                .iter()
                .find(|s| {
                    let full = pinyin::spelled(s);
                    full.starts_with(key) || key.starts_with(full.as_str())
                })
                .or(spellings.first());
            let mut reached = 0;
            let mut at = 0;
            for &s in spelling.into_iter().flatten() {
                if at >= key.len() {
                    break;
                }
                reached += 1;
                at += pinyin::syllable(s).len();
            }
            reached
        }
    };
    let n = match reached.min(keyed.len()) {
        0 => skip,
        r => keyed[r - 1] + 1,
    };
    n as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::index::tests::{product, shop};
    use crate::text::{AnalysisMode, Analyzer};

    fn index() -> Index {
        let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
        index.upsert_shops(vec![shop("s1", "山下有松 旗舰店"), shop("s2", "数码配件")]);
        let mut products = vec![
            product("a", "s1", "羊绒围巾女 冬季加厚"),
            product("b", "s1", "羊绒大衣 女"),
            product("c", "s1", "羽绒服 男"),
            product("d", "s2", "iPhone15 手机壳"),
            product("e", "s2", "手机支架"),
        ];
        products[0].sales_30d = 100;
        products[1].sales_30d = 10;
        products[2].sales_30d = 50;
        products[3].brand = "Apple".to_owned();
        index.upsert_products(products).unwrap();
        index
    }

    fn texts(s: &[Suggestion]) -> Vec<&str> {
        s.iter().map(|x| x.text.as_str()).collect()
    }

    #[test]
    fn characters_pinyin_and_initials_complete_by_popularity() {
        let suggester = Suggester::build(&index());
        let by_text = suggester.suggest("羊", 10);
        assert_eq!(by_text[0].text, "羊绒");
        assert_eq!(by_text[0].popularity, 101 + 11);
        assert_eq!(by_text[0].matched_chars, 1);
        assert_eq!(by_text[0].matched, SuggestionMatch::Text);
        let pinyin = suggester.suggest("yangr", 10);
        assert_eq!(pinyin[0].text, "羊绒");
        assert_eq!(pinyin[0].matched, SuggestionMatch::Pinyin);
        assert_eq!(pinyin[0].matched_chars, 2);
        let initials = suggester.suggest("yr", 10);
        assert_eq!(initials[0].text, "羊绒", "{initials:?}");
        assert!(texts(&initials).contains(&"羽绒"));
        assert_eq!(initials[0].matched, SuggestionMatch::Initials);
        // Shop names and brands complete too.
        let shop = suggester.suggest("山下", 10);
        assert!(shop.iter().any(|s| s.text == "山下有松 旗舰店"
            && s.source == SuggestionSource::ShopName
            && s.matched_chars == 2));
        let brand = suggester.suggest("app", 10);
        assert_eq!(brand[0].text, "apple");
        assert_eq!(brand[0].source, SuggestionSource::Brand);
        // Mixed: characters, then the pinyin of the next.
        let mixed = suggester.suggest("羊r", 10);
        assert_eq!(
            texts(&mixed),
            ["羊绒", "羊绒围巾", "羊绒围巾女", "羊绒大衣"]
        );
        assert_eq!(mixed[0].matched_chars, 2);
        // Phrases: two words in a row of a title.
        let phrase = suggester.suggest("手机z", 10);
        assert_eq!(texts(&phrase), ["手机支架"]);
        assert_eq!(phrase[0].matched_chars, 3);
        assert_eq!(suggester.suggest("yangrongw", 10)[0].text, "羊绒围巾");
        assert_eq!(suggester.suggest("shanx", 10)[0].text, "山下有松 旗舰店");
    }

    #[test]
    fn limits_order_and_validation() {
        let suggester = Suggester::build(&index());
        let all = suggester.suggest("s", 20);
        assert!(all.len() > 2);
        for pair in all.windows(2) {
            assert!(
                pair[0].popularity >= pair[1].popularity
                    || pair[1].matched != SuggestionMatch::Text
            );
        }
        assert_eq!(suggester.suggest("s", 2).len(), 2);
        assert!(suggester.suggest("！", 5).is_empty());
        assert!(suggester.suggest("zzzz", 5).is_empty());
        assert!(
            validate("", 5).is_err() && validate("a", 0).is_err() && validate("a", 21).is_err()
        );
        assert!(validate(&"a".repeat(31), 5).is_err() && validate("a", 20).is_ok());
        assert!(
            Suggester::build(&Index::new(Analyzer::new(AnalysisMode::Full)))
                .suggest("a", 5)
                .is_empty()
        );
    }
}
