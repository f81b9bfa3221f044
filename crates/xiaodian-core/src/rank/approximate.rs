//! Approximate matching (SPEC §3): a query word that no product has as typed is matched by
//! what it sounds like or what it was meant to spell, below exact matches. The pure-Python
//! twin is `xiaodian.reference.search` (`approximate`), rule for rule.
//!
//! Rules, for the words of an analysed query (`Analyzer::analyze_query`), where a word is
//! *missing* when a term of its first alternative (the word as typed) is in no live product:
//! - **phrases**: the Han terms of the index that are dictionary words of 1–4 characters
//!   (`Analyzer::is_dictionary_word`) and the title phrases of 2–4 characters (units in a
//!   row: 充电宝, 羊绒围巾, 卫衣; `Analyzer::token_and_phrase_slices`), each spelt in
//!   pinyin for every combination of its characters' readings (at most [`MAX_SPELLINGS`]) and
//!   by the initials of each spelling. A phrase is *live* when a live product has it (in a
//!   searched field, or a title phrase in its title) and every term it is matched by (its
//!   bigrams; a lone character itself) is in a live product; its *df* is the least df of
//!   those terms;
//! - **pinyin** (full syllables, spaced or not: `yangrong`, `yang rong`, `yangrongweijin`):
//!   consecutive missing letter words are read together as syllables ([`pinyin::cuts`] of
//!   each word, word by word, trying at most [`MAX_READINGS`] readings in order), and the first
//!   reading that is covered whole by *pieces* of 1–[`MAX_PIECE_SYLLABLES`] syllables, each
//!   the spelling of a live phrase and none across a space beside a word of two or more
//!   syllables (`yangrong weijin` is two pieces, `yang rong` may be one), is taken. Among
//!   covers, the fewest pieces win (a piece of one syllable counts two), then the cover whose
//!   rarest piece is most common ([`cheapest_cover`]), then the longest piece first. Each
//!   piece becomes a query word whose alternatives are its phrases;
//! - otherwise each missing letter word alone: **typos** for a word of at least
//!   [`MIN_TYPO_LETTERS`] letters: the Latin words of the index (letters only) within edit
//!   distance 1, or 2 from [`TWO_TYPOS_LETTERS`] letters (a transposition of two neighbours is
//!   one edit); digits are never words of letters, so `iphone15` never matches `iphone16`;
//! - then **initials** (`yr`, `yrwj`) for a word of 2–[`MAX_INITIALS`] letters, covered like
//!   pinyin by pieces of 1–[`MAX_PIECE_SYLLABLES`] initials, each the initials of a live
//!   phrase; of its best [`MAX_COVERS`] covers, the first whose pieces meet in a live product
//!   (some product has, for every piece, all terms of one of its phrases) is taken, else the
//!   best;
//! - **same sound** (洋绒 → 羊绒): a missing Han word of 2–[`MAX_PIECE_SYLLABLES`] characters
//!   (not negated, without synonyms) matches the live phrases spelt like it, itself excluded;
//! - a spelling or initials match the phrases they are the *first* spelling of (every
//!   character's most common reading) when there are any, else those they spell through
//!   another reading (温 is mostly `wen`: `yr` does not find 温柔 while 羽绒 is there);
//! - a word's approximations are its best [`MAX_APPROXIMATIONS`]: the fewest edits first
//!   (typos), then the largest df, then the text; their terms score × the profile's
//!   `approximate_weight`.
//!
//! A word with approximations keeps the typed terms as its first alternative (they match
//! nothing); a piece's typed terms are those of the words it was read from.

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder};
use std::sync::OnceLock;

use super::index::HashMap;
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
use crate::text::pinyin::{self, SyllableId};
use crate::text::{is_han, AnalyzedQuery, Analyzer, ApproximateKind, QueryTerm, QueryWord};

/// Most reading combinations a phrase is spelt by.
pub const MAX_SPELLINGS: usize = 16;
/// Most approximations of one query word.
pub const MAX_APPROXIMATIONS: usize = 8;
/// Longest phrase matched approximately, in characters (and syllables).
pub const MAX_PIECE_SYLLABLES: usize = 4;
/// Most readings of a run of missing letter words tried.
pub const MAX_READINGS: usize = 8;
/// Fewest letters of a word that may be a typo.
pub const MIN_TYPO_LETTERS: usize = 5;
/// Fewest letters of a word that may have two typos.
pub const TWO_TYPOS_LETTERS: usize = 9;
/// Most letters of a word of initials.
pub const MAX_INITIALS: usize = 8;
/// Most covers of a word of initials tried for one whose pieces meet in a product.
pub const MAX_COVERS: usize = 8;

/// A phrase under one key of [`SoundIndex`].
#[derive(Debug)]
struct Keyed {
    text: Box<str>,
    /// The key comes from the phrase's first spelling.
    first: bool,
}

/// The phrases under one key, in arrival order.
type Phrases = Vec<Keyed>;

/// The index's phrases by sound and its Latin words by length, kept as terms arrive.
#[derive(Debug, Default)]
pub(crate) struct SoundIndex {
    /// A spelling (syllable numbers) → the phrases spelt so, each with whether this is its
    /// first spelling (every character's most common reading), in arrival order.
    by_pinyin: HashMap<Box<[SyllableId]>, Phrases>,
    /// Initials → the phrases with them, each with whether these are the initials of its
    /// first spelling, in arrival order.
    by_initials: HashMap<Box<[u8]>, Phrases>,
    /// `latin[n]`: the words of n letters (a-z only), in arrival order.
    latin: Vec<Vec<Box<str>>>,
    /// Every phrase taken in, so that one that comes back is not keyed twice.
    phrases: HashSet<Box<str>>,
}

impl SoundIndex {
    /// Takes in a new term of the index (each term once).
    pub(crate) fn add_term(&mut self, text: &str, analyzer: &Analyzer) {
        let chars = text.chars().count();
        if text.bytes().all(|b| b.is_ascii_lowercase()) {
            if self.latin.len() <= chars {
                self.latin.resize_with(chars + 1, Vec::new);
            }
            self.latin[chars].push(text.into());
            return;
        }
        if analyzer.is_dictionary_word(text) {
            self.add_phrase(text);
        }
    }

    /// Takes in a new phrase: a dictionary word of the index, or a title phrase
    /// (`Analyzer::token_and_phrase_slices`) the first time a live title has it. Only Han
    /// phrases of 1–[`MAX_PIECE_SYLLABLES`] characters are kept.
    pub(crate) fn add_phrase(&mut self, text: &str) {
        let chars = text.chars().count();
        if !(1..=MAX_PIECE_SYLLABLES).contains(&chars)
            || !text.chars().all(is_han)
            || !self.phrases.insert(text.into())
        {
            return;
        }
        let spellings = pinyin::spellings(text, MAX_SPELLINGS);
        let mut initials: Vec<(Vec<u8>, bool)> = Vec::new();
        for (k, spelling) in spellings.into_iter().enumerate() {
            let letters: Vec<u8> = spelling.iter().map(|&s| pinyin::initial(s)).collect();
            if !initials.iter().any(|(i, _)| *i == letters) {
                initials.push((letters, k == 0));
            }
            self.by_pinyin
                .entry(spelling.into_boxed_slice())
                .or_default()
                .push(Keyed {
                    text: text.into(),
                    first: k == 0,
                });
        }
        for (letters, first) in initials {
            self.by_initials
                .entry(letters.into_boxed_slice())
                .or_default()
                .push(Keyed {
                    text: text.into(),
                    first,
                });
        }
    }
}

/// The terms that match a phrase: its bigrams, or the lone character.
fn phrase_terms(phrase: &str) -> Vec<String> {
    let chars: Vec<char> = phrase.chars().collect();
    if chars.len() == 1 {
        return vec![phrase.to_owned()];
    }
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// One way of matching a word approximately: the phrase or word matched, its terms, and
/// what orders it among the word's others.
#[derive(Debug, Clone)]
struct Approximation {
    text: String,
    terms: Vec<String>,
    edits: u8,
    df: u32,
}

/// A word of the expanded query while it is built: its alternatives' term texts.
struct Draft {
    typed: Vec<String>,
    text: String,
    approximations: Vec<Approximation>,
    kind: ApproximateKind,
}

/// The query as the index can match it: `query` with approximations for its missing words.
/// `df(term)` is the number of live products containing the term in a searched field.
pub(crate) fn approximate(
    sound: &SoundIndex,
    query: AnalyzedQuery,
    lookup: &dyn Lookup,
) -> AnalyzedQuery {
    let finder = Finder { sound, lookup };
    let missing = |word: &QueryWord| {
        word.alternatives[0]
            .iter()
            .any(|&t| lookup.df(&query.terms[t].text) == 0)
    };
    // Each word of the result: unchanged (its index), or a draft.
    enum Out {
        Same(usize),
        New(Draft),
    }
    let typed = |word: &QueryWord| -> Vec<String> {
        word.alternatives[0]
            .iter()
            .map(|&t| query.terms[t].text.clone())
            .collect()
    };
    let mut out: Vec<Out> = Vec::new();
    let words = &query.words;
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if word.letters && missing(word) {
            let mut j = i + 1;
            while j < words.len() && words[j].letters && missing(&words[j]) {
                j += 1;
            }
            let texts: Vec<&str> = words[i..j].iter().map(|w| w.text.as_str()).collect();
            if let Some(pieces) = finder.pinyin_pieces(&texts) {
                for (word_range, text, approximations) in pieces {
                    let mut typed_terms: Vec<String> = Vec::new();
                    for w in &words[i + word_range.0..=i + word_range.1] {
                        typed_terms.extend(typed(w));
                    }
                    out.push(Out::New(Draft {
                        typed: typed_terms,
                        text,
                        approximations,
                        kind: ApproximateKind::Pinyin,
                    }));
                }
                i = j;
                continue;
            }
            for (k, w) in words[i..j].iter().enumerate() {
                let found = if j - i > 1 {
                    finder.pinyin_pieces(&[w.text.as_str()])
                } else {
                    None
                };
                if let Some(pieces) = found {
                    for (_, text, approximations) in pieces {
                        out.push(Out::New(Draft {
                            typed: typed(w),
                            text,
                            approximations,
                            kind: ApproximateKind::Pinyin,
                        }));
                    }
                    continue;
                }
                let typos = finder.typos(&w.text);
                if !typos.is_empty() {
                    out.push(Out::New(Draft {
                        typed: typed(w),
                        text: w.text.clone(),
                        approximations: typos,
                        kind: ApproximateKind::Typo,
                    }));
                    continue;
                }
                match finder.initials_pieces(&w.text) {
                    Some(pieces) => {
                        for (text, approximations) in pieces {
                            out.push(Out::New(Draft {
                                typed: typed(w),
                                text,
                                approximations,
                                kind: ApproximateKind::Initials,
                            }));
                        }
                    }
                    None => out.push(Out::Same(i + k)),
                }
            }
            i = j;
            continue;
        }
        let plain_han = !word.letters
            && !word.negated
            && word.alternatives.len() == 1
            && word.text.chars().all(is_han)
            && (2..=MAX_PIECE_SYLLABLES).contains(&word.text.chars().count());
        if plain_han && missing(word) {
            let same = finder.same_sound(&word.text);
            if !same.is_empty() {
                out.push(Out::New(Draft {
                    typed: typed(word),
                    text: word.text.clone(),
                    approximations: same,
                    kind: ApproximateKind::SameSound,
                }));
                i += 1;
                continue;
            }
        }
        out.push(Out::Same(i));
        i += 1;
    }
    if out.iter().all(|o| matches!(o, Out::Same(_))) {
        return query;
    }
    let AnalyzedQuery {
        mut terms,
        words: old_words,
    } = query;
    let id_of = |terms: &mut Vec<QueryTerm>, text: &str| -> usize {
        match terms.iter().position(|t| t.text == text) {
            Some(id) => id,
            None => {
                terms.push(QueryTerm {
                    text: text.to_owned(),
                    required: false,
                    synonym: false,
                    approximate: true,
                });
                terms.len() - 1
            }
        }
    };
    let mut new_words: Vec<QueryWord> = Vec::new();
    for o in out {
        let word = match o {
            Out::Same(k) => old_words[k].clone(),
            Out::New(draft) => {
                let ids = |terms: &mut Vec<QueryTerm>, texts: &[String]| -> Vec<usize> {
                    let mut ids: Vec<usize> = texts.iter().map(|t| id_of(terms, t)).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                };
                let mut alternatives = vec![ids(&mut terms, &draft.typed)];
                for a in &draft.approximations {
                    alternatives.push(ids(&mut terms, &a.terms));
                }
                QueryWord {
                    alternatives,
                    synonyms: draft.approximations.into_iter().map(|a| a.text).collect(),
                    text: draft.text,
                    negated: false,
                    letters: false,
                    approximate: Some(draft.kind),
                }
            }
        };
        if !new_words.contains(&word) {
            new_words.push(word);
        }
    }
    AnalyzedQuery {
        terms,
        words: new_words,
    }
}

/// What approximate matching asks of the index, for the fields a search searches.
pub(crate) trait Lookup {
    /// The number of live products containing the term.
    fn df(&self, term: &str) -> u32;
    /// True when a live product has the phrase: a dictionary word as a term, or a title
    /// phrase in its title (`Analyzer::token_and_phrase_slices`).
    fn has_phrase(&self, phrase: &str) -> bool;
    /// The live products containing the term, ascending.
    fn products(&self, term: &str) -> Vec<u32>;
}

struct Finder<'a> {
    sound: &'a SoundIndex,
    lookup: &'a dyn Lookup,
}

/// A cover of a sequence by pieces: each piece's (start, end).
type Cover = Vec<(usize, usize)>;

impl Finder<'_> {
    /// The live phrases of `phrases` other than `except`, those matched through their first
    /// spelling only when there are any, best first, at most [`MAX_APPROXIMATIONS`].
    fn live<'p>(
        &self,
        phrases: impl Iterator<Item = &'p Keyed> + Clone,
        except: &str,
    ) -> Vec<Approximation> {
        let first = self.live_of(phrases.clone().filter(|k| k.first), except);
        if !first.is_empty() {
            return first;
        }
        self.live_of(phrases.filter(|k| !k.first), except)
    }

    fn live_of<'p>(
        &self,
        phrases: impl Iterator<Item = &'p Keyed>,
        except: &str,
    ) -> Vec<Approximation> {
        let mut found: Vec<Approximation> = Vec::new();
        for keyed in phrases {
            let phrase = &keyed.text;
            if &**phrase == except {
                continue;
            }
            if found.iter().any(|a| a.text == **phrase) {
                continue;
            }
            let terms = phrase_terms(phrase);
            let df = terms.iter().map(|t| self.lookup.df(t)).min().unwrap_or(0);
            if df > 0 && self.lookup.has_phrase(phrase) {
                found.push(Approximation {
                    text: phrase.to_string(),
                    terms,
                    edits: 0,
                    df,
                });
            }
        }
        best(found)
    }

    fn by_pinyin(&self, spelling: &[SyllableId], except: &str) -> Vec<Approximation> {
        self.live(
            self.sound.by_pinyin.get(spelling).into_iter().flatten(),
            except,
        )
    }

    fn by_initials(&self, initials: &[u8]) -> Vec<Approximation> {
        self.live(
            self.sound.by_initials.get(initials).into_iter().flatten(),
            "",
        )
    }

    /// Consecutive letter words read as pinyin: for each piece, the range of words it was read
    /// from (first, last), its syllables as text and its phrases.
    #[allow(clippy::type_complexity)]
    fn pinyin_pieces(
        &self,
        words: &[&str],
    ) -> Option<Vec<((usize, usize), String, Vec<Approximation>)>> {
        // Readings: the cartesian product of each word's cuts, in order, at most MAX_READINGS.
        let mut readings: Vec<(Vec<SyllableId>, Vec<usize>)> = vec![(Vec::new(), Vec::new())];
        for (w, word) in words.iter().enumerate() {
            let cuts = pinyin::cuts(word);
            if cuts.is_empty() {
                return None;
            }
            let mut next = Vec::new();
            'product: for (syllables, owners) in &readings {
                for cut in &cuts {
                    if next.len() == MAX_READINGS {
                        break 'product;
                    }
                    let mut s = syllables.clone();
                    s.extend_from_slice(cut);
                    let mut o = owners.clone();
                    o.extend(std::iter::repeat_n(w, cut.len()));
                    next.push((s, o));
                }
            }
            readings = next;
        }
        for (syllables, owners) in readings {
            let syllables_of = |w: usize| owners.iter().filter(|&&o| o == w).count();
            // A space between two words, one of them of two or more syllables, is kept: no
            // piece spans it (`yangrong weijin` is 羊绒 and 围巾 apart; `yang rong` is one).
            let spans_a_kept_space = |start: usize, end: usize| {
                (start + 1..end).any(|b| {
                    owners[b - 1] != owners[b]
                        && (syllables_of(owners[b - 1]) > 1 || syllables_of(owners[b]) > 1)
                })
            };
            let mut memo: HashMap<(usize, usize), Vec<Approximation>> = HashMap::default();
            let cover = cheapest_cover(syllables.len(), |start, end| {
                if spans_a_kept_space(start, end) {
                    return None;
                }
                let found = self.by_pinyin(&syllables[start..end], "");
                let cost = piece_cost(end - start, &found);
                memo.insert((start, end), found);
                cost
            });
            if let Some(cover) = cover {
                return Some(
                    cover
                        .into_iter()
                        .map(|(start, end)| {
                            let text = pinyin::spelled(&syllables[start..end]);
                            let phrases = memo.remove(&(start, end)).unwrap_or_default();
                            ((owners[start], owners[end - 1]), text, phrases)
                        })
                        .collect(),
                );
            }
        }
        None
    }

    /// A letter word read as initials: each piece's letters and phrases. Its covers are
    /// ordered as [`cheapest_cover`] orders them; the first of the best [`MAX_COVERS`] whose
    /// pieces meet in a live product is taken (initials are ambiguous: `mncdb` is 迷你 充电宝,
    /// which some products have together), else the first.
    fn initials_pieces(&self, word: &str) -> Option<Vec<(String, Vec<Approximation>)>> {
        let letters = word.as_bytes();
        let n = letters.len();
        if !(2..=MAX_INITIALS).contains(&n) || !letters.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        let mut pieces: HashMap<(usize, usize), Vec<Approximation>> = HashMap::default();
        for start in 0..n {
            for end in start + 1..=(start + MAX_PIECE_SYLLABLES).min(n) {
                let found = self.by_initials(&letters[start..end]);
                if !found.is_empty() {
                    pieces.insert((start, end), found);
                }
            }
        }
        // Every cover: (cost, least df, its pieces), then the best first.
        let mut covers: Vec<(usize, u32, Cover)> = Vec::new();
        let mut stack: Vec<(usize, usize, u32, Cover)> = vec![(0, 0, u32::MAX, Vec::new())];
        while let Some((start, cost, least, cover)) = stack.pop() {
            if start == n {
                covers.push((cost, least, cover));
                continue;
            }
            for end in start + 1..=(start + MAX_PIECE_SYLLABLES).min(n) {
                if let Some(found) = pieces.get(&(start, end)) {
                    let (piece, df) = piece_cost(end - start, found).expect("found is not empty");
                    let mut longer = cover.clone();
                    longer.push((start, end));
                    stack.push((end, cost + piece, least.min(df), longer));
                }
            }
        }
        // Fewest pieces (a lone initial counts two), the most common rarest piece, then the
        // longest pieces first (ends compared from the first piece on: a later end is longer).
        covers.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then_with(|| b.2.iter().map(|p| p.1).cmp(a.2.iter().map(|p| p.1)))
        });
        let meets = |cover: &Cover| {
            let mut common: Option<Vec<u32>> = None;
            for piece in cover {
                let mut any: Vec<u32> = Vec::new();
                for a in &pieces[piece] {
                    any.extend(self.products_with_all(&a.terms));
                }
                any.sort_unstable();
                any.dedup();
                common = Some(match common {
                    None => any,
                    Some(before) => intersect(&before, &any),
                });
                if common.as_ref().is_some_and(Vec::is_empty) {
                    return false;
                }
            }
            true
        };
        let chosen = covers
            .iter()
            .take(MAX_COVERS)
            .find(|(_, _, cover)| meets(cover))
            .or(covers.first())?;
        Some(
            chosen
                .2
                .iter()
                .map(|piece| (word[piece.0..piece.1].to_owned(), pieces[piece].clone()))
                .collect(),
        )
    }

    /// The live products containing every one of `terms`, ascending.
    fn products_with_all(&self, terms: &[String]) -> Vec<u32> {
        let mut common: Option<Vec<u32>> = None;
        for term in terms {
            let products = self.lookup.products(term);
            common = Some(match common {
                None => products,
                Some(before) => intersect(&before, &products),
            });
        }
        common.unwrap_or_default()
    }

    /// The Latin words within the edits a word of its length may have.
    fn typos(&self, word: &str) -> Vec<Approximation> {
        let n = word.len();
        if n < MIN_TYPO_LETTERS || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return Vec::new();
        }
        let max_edits: usize = if n >= TWO_TYPOS_LETTERS { 2 } else { 1 };
        let dfa = typo_builder(max_edits).build_dfa(word);
        let mut found: Vec<Approximation> = Vec::new();
        for len in n - max_edits..=n + max_edits {
            for candidate in self.sound.latin.get(len).into_iter().flatten() {
                if &**candidate == word || found.iter().any(|a| a.text == **candidate) {
                    continue;
                }
                if let Distance::Exact(edits) = dfa.eval(candidate.as_bytes()) {
                    let df = self.lookup.df(candidate);
                    if df > 0 {
                        found.push(Approximation {
                            text: candidate.to_string(),
                            terms: vec![candidate.to_string()],
                            edits,
                            df,
                        });
                    }
                }
            }
        }
        best(found)
    }

    /// The live phrases that sound like a Han word, but for the word itself.
    fn same_sound(&self, word: &str) -> Vec<Approximation> {
        let mut found: Vec<Approximation> = Vec::new();
        for spelling in pinyin::spellings(word, MAX_SPELLINGS) {
            for a in self.by_pinyin(&spelling, word) {
                if !found.iter().any(|f| f.text == a.text) {
                    found.push(a);
                }
            }
        }
        best(found)
    }
}

/// The items of both ascending lists.
fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// The best [`MAX_APPROXIMATIONS`]: fewest edits, then largest df, then text.
fn best(mut found: Vec<Approximation>) -> Vec<Approximation> {
    found.sort_by(|a, b| {
        a.edits
            .cmp(&b.edits)
            .then(b.df.cmp(&a.df))
            .then_with(|| a.text.cmp(&b.text))
    });
    found.truncate(MAX_APPROXIMATIONS);
    found
}

/// What a piece of a cover costs ([`cheapest_cover`]), None when nothing matches it: 1, or
/// 2 for a piece of one unit (a lone syllable or initial says little); and the df of its most
/// common phrase.
fn piece_cost(units: usize, found: &[Approximation]) -> Option<(usize, u32)> {
    let df = found.iter().map(|a| a.df).max()?;
    Some((if units == 1 { 2 } else { 1 }, df))
}

/// The best cover of `0..n` by pieces of 1–[`MAX_PIECE_SYLLABLES`] units, each piece's cost
/// and df given by `cost(start, end)` (None: no piece; each piece is asked about once): the
/// least total cost, then the largest least df of its pieces (a cut into common phrases, not
/// rare ones that seldom meet: `mncdb` is 迷你 充电宝), then the longest first piece, and so on.
fn cheapest_cover(
    n: usize,
    mut cost: impl FnMut(usize, usize) -> Option<(usize, u32)>,
) -> Option<Cover> {
    // best[i]: the best cover of i..n as (total cost, least df, first piece's end).
    let mut best: Vec<Option<(usize, u32, usize)>> = vec![None; n + 1];
    best[n] = Some((0, u32::MAX, n));
    for start in (0..n).rev() {
        for len in (1..=MAX_PIECE_SYLLABLES.min(n - start)).rev() {
            let end = start + len;
            let Some((rest, rest_df, _)) = best[end] else {
                continue;
            };
            let Some((piece, df)) = cost(start, end) else {
                continue;
            };
            let candidate = (rest + piece, df.min(rest_df), end);
            let better = best[start].is_none_or(|(total, least, _)| {
                (candidate.0, std::cmp::Reverse(candidate.1)) < (total, std::cmp::Reverse(least))
            });
            if better {
                best[start] = Some(candidate);
            }
        }
    }
    best[0]?;
    let mut cover = Vec::new();
    let mut start = 0;
    while start < n {
        let (_, _, end) = best[start].expect("a cover continues to the end");
        cover.push((start, end));
        start = end;
    }
    Some(cover)
}

/// The automaton builder for typos of up to `max_edits` (1 or 2), built once.
fn typo_builder(max_edits: usize) -> &'static LevenshteinAutomatonBuilder {
    static ONE: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    static TWO: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    if max_edits == 1 {
        ONE.get_or_init(|| LevenshteinAutomatonBuilder::new(1, true))
    } else {
        TWO.get_or_init(|| LevenshteinAutomatonBuilder::new(2, true))
    }
}

#[cfg(test)]
mod tests {
    use crate::rank::index::tests::{product, shop};
    use crate::rank::index::Index;
    use crate::rank::profile::RankingProfile;
    use crate::rank::search::{Filter, SearchRequest, SearchResult, Sort};
    use crate::text::{AnalysisMode, Analyzer, ApproximateKind};

    fn catalog() -> Index {
        let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
        index.upsert_shops(vec![shop("s1", "山下有松"), shop("s2", "数码配件")]);
        let mut products = vec![
            product("scarf", "s1", "羊绒围巾女 冬季加厚"),
            product("down", "s1", "羽绒服男 冬季"),
            product("cup", "s1", "保温杯 316不锈钢"),
            product("i15", "s2", "iPhone15 手机壳"),
            product("i16", "s2", "iPhone16 手机壳"),
            product("tv", "s2", "电视机 遥控器"),
        ];
        products[5].brand = "Samsung".to_owned();
        index.upsert_products(products).unwrap();
        index
    }

    fn run(index: &Index, query: &str) -> SearchResult {
        let request = SearchRequest {
            query: query.to_owned(),
            filter: Filter::default(),
            sort: Sort::Relevance,
            page_size: 10,
            page: 0,
            max_per_shop: 0,
            keep_duplicates: true,
            explain: true,
            now_s: 0,
        };
        index.search(&RankingProfile::default(), &request).unwrap()
    }

    fn search(index: &Index, query: &str) -> Vec<String> {
        let result = run(index, query);
        result.hits.iter().map(|h| h.product_id.clone()).collect()
    }

    /// The first hit's approximate matches.
    fn matches(index: &Index, query: &str) -> Vec<(String, String, ApproximateKind)> {
        let result = run(index, query);
        let explanation = result.hits[0].explanation.as_ref().unwrap();
        explanation.approximate_matches.clone()
    }

    #[test]
    fn full_pinyin_spaced_or_not_finds_the_chinese_words() {
        let index = catalog();
        for query in [
            "yangrong",
            "yang rong",
            "yangrongweijin",
            "yangrong weijin",
            "yang rong wei jin",
            "羊绒weijin",
        ] {
            assert_eq!(search(&index, query), ["scarf"], "{query}");
        }
        assert_eq!(search(&index, "baowenbei"), ["cup"]);
        let explained = matches(&index, "yangrong");
        assert_eq!(
            explained,
            [(
                "yangrong".to_owned(),
                "羊绒".to_owned(),
                ApproximateKind::Pinyin
            )]
        );
    }

    #[test]
    fn initials_find_the_words_they_start() {
        let index = catalog();
        assert_eq!(search(&index, "yrwj"), ["scarf"]);
        assert_eq!(search(&index, "bwb"), ["cup"]);
        assert_eq!(matches(&index, "yrwj")[0].2, ApproximateKind::Initials);
    }

    #[test]
    fn a_same_sound_word_matches_the_word_it_sounds_like() {
        let index = catalog();
        assert_eq!(search(&index, "洋绒围巾"), ["scarf"]);
        assert_eq!(search(&index, "羊绒围金"), ["scarf"]);
        let explained = matches(&index, "洋绒围巾");
        assert_eq!(explained[0].1, "羊绒");
        assert_eq!(explained[0].2, ApproximateKind::SameSound);
        // A word the catalog has is never approximated.
        assert!(matches(&index, "羊绒围巾").is_empty());
    }

    #[test]
    fn latin_typos_within_their_edits_and_never_digits() {
        let index = catalog();
        // Five letters or more: one edit (a transposition is one).
        assert_eq!(search(&index, "samsnug"), ["tv"]);
        assert_eq!(search(&index, "iphnoe 15"), ["i15"]);
        // Four letters: no typo; two edits on six letters: none.
        assert!(search(&index, "iphonexx").is_empty());
        // Digits never fuzzy: iphone17 matches neither 15 nor 16.
        assert!(search(&index, "iphone17").is_empty());
        assert_eq!(matches(&index, "samsnug")[0].2, ApproximateKind::Typo);
    }

    #[test]
    fn exact_queries_are_unchanged() {
        let index = catalog();
        assert_eq!(search(&index, "羊绒围巾"), ["scarf"]);
        assert_eq!(search(&index, "iphone15"), ["i15"]);
    }
}
