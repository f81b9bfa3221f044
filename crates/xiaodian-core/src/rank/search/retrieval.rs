//! Retrieval: which products match the query, with their first-phase scores. The first tier,
//! every query word (seeking from the rarest required term, or window by window for a dense
//! one), the first tier's count that decides whether a second tier is searched, and the
//! second tier (at least ⌈2/3⌉ of the words) window by window; the postings cursors and bit
//! helpers they share.

use super::Query;
use crate::rank::index::{Posting, Term};

/// Which matches a retrieval visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tier {
    /// Every query word (every required term); a blank query: every product.
    First,
    /// At least `min_words` of the query's words, not all of them.
    Second { min_words: usize },
}

/// Documents per window of term-at-a-time retrieval.
const WINDOW: u32 = 4096;
/// 64-bit words of a bitmap over one window.
const WORDS: usize = WINDOW as usize / 64;

/// All-terms retrieval of a query with several terms goes window by window when the lead
/// (rarest required) term is in more than 1/this of the documents; below that, seeking from the
/// lead's documents is cheaper.
const DENSE_LEAD_FRACTION: usize = 16;

/// The first position at or after `from` whose document is >= `doc` (galloping search).
fn skip_to(list: &[Posting], from: usize, doc: u32) -> usize {
    let rest = &list[from.min(list.len())..];
    if rest.first().is_none_or(|p| p.doc >= doc) {
        return from.min(list.len());
    }
    let mut bound = 1;
    while bound < rest.len() && rest[bound].doc < doc {
        bound *= 2;
    }
    let window = &rest[bound / 2..rest.len().min(bound + 1)];
    from + bound / 2 + window.partition_point(|p| p.doc < doc)
}

/// Calls `visit(slot)` for every set bit of `bits`, in increasing order, clearing them.
fn drain_bits(bits: &mut [u64], mut visit: impl FnMut(usize)) {
    for (word_index, word) in bits.iter_mut().enumerate() {
        for_each_bit(std::mem::take(word), |bit| visit(word_index * 64 + bit));
    }
}

/// Calls `visit(bit)` for every set bit of `word`, in increasing order.
#[inline(always)]
pub(super) fn for_each_bit(mut word: u64, mut visit: impl FnMut(usize)) {
    while word != 0 {
        let bit = word.trailing_zeros() as usize;
        word &= word - 1;
        visit(bit);
    }
}

/// A cursor over a postings list that only moves forward.
struct Cursor<'a> {
    postings: &'a [Posting],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The posting of `doc`, if any, moving past smaller documents.
    fn seek(&mut self, doc: u32) -> Option<&'a Posting> {
        self.at = skip_to(self.postings, self.at, doc);
        self.postings.get(self.at).filter(|p| p.doc == doc)
    }
}

/// How all-terms retrieval tests a document for one required term.
#[derive(Clone, Copy)]
enum Check<'a> {
    /// By the term's bitset ([`Query::by_bit`]).
    Bit(&'a Term),
    /// By seeking the cursor of the query's term at this index.
    Seek(usize),
}

impl<'a> Query<'a> {
    /// Calls `visit(doc, score)` for every match of `tier` and returns their number.
    pub(super) fn for_each_match(&self, tier: Tier, mut visit: impl FnMut(u32, f64)) -> u64 {
        let index = self.index;
        let all = self.words.len();
        match tier {
            Tier::Second { min_words } => {
                return self.for_each_word_count_match(min_words, all - 1, &mut visit);
            }
            Tier::First if self.has_alternatives && !self.browse => {
                return self.for_each_word_count_match(all, all, &mut visit);
            }
            Tier::First => {}
        }
        let mut matches = 0u64;
        let mut visit = |doc: u32, score: f64| {
            matches += 1;
            visit(doc, score);
        };
        if self.browse {
            for doc in 0..index.docs.alive.len() as u32 {
                if self.filter.accepts(index, doc) {
                    visit(doc, 0.0);
                }
            }
            return matches;
        }
        let Some((lead, checks)) = self.all_terms_plan() else {
            return 0;
        };
        let lead_term = self.terms[lead]
            .term
            .expect("the plan's terms have postings");
        let dense = lead_term.postings.len() * DENSE_LEAD_FRACTION > index.docs.alive.len();
        if dense && self.terms.len() > 1 {
            self.for_each_all_terms_match_windowed(lead, &mut visit);
            return matches;
        }
        let mut cursors = self.cursors();
        for lead_posting in &lead_term.postings {
            let doc = lead_posting.doc;
            if !self.bm25f.contains(lead_posting)
                || !self.filter.accepts(index, doc)
                || !self.has_all(&checks, &mut cursors, doc)
            {
                continue;
            }
            // The document has every required term (the seeks below find those not tested by
            // bit at once).
            let mut score = 0.0;
            for (i, t) in self.terms.iter().enumerate() {
                let posting = if i == lead {
                    Some(lead_posting)
                } else {
                    cursors[i].as_mut().and_then(|c| c.seek(doc))
                };
                if let Some(p) = posting.filter(|p| self.bm25f.contains(p)) {
                    score += t.score(&self.bm25f, p, &index.docs.lens);
                }
            }
            visit(doc, score);
        }
        matches
    }

    /// How all-terms retrieval checks a document: the lead (the rarest required term, whose
    /// postings are walked) and the other required terms in the order they are tested, those
    /// tested by bit first, then rarest first, so a document lacking one is left after as few
    /// seeks as may be. None when no term is required or a required term has no postings.
    fn all_terms_plan(&self) -> Option<(usize, Vec<Check<'a>>)> {
        let mut required: Vec<(bool, usize, usize)> = Vec::new();
        for (i, t) in self.terms.iter().enumerate().filter(|(_, t)| t.required) {
            let term = t.term?;
            required.push((!self.by_bit(term), term.postings.len(), i));
        }
        let lead = required.iter().min_by_key(|&&(_, len, _)| len)?.2;
        required.sort_unstable();
        let checks = required
            .into_iter()
            .filter(|&(_, _, i)| i != lead)
            .map(|(seek, _, i)| match self.terms[i].term {
                Some(term) if !seek => Check::Bit(term),
                _ => Check::Seek(i),
            });
        Some((lead, checks.collect()))
    }

    /// A forward-only cursor over each query term's postings (None without postings).
    fn cursors(&self) -> Vec<Option<Cursor<'a>>> {
        self.terms
            .iter()
            .map(|t| {
                t.term.map(|term| Cursor {
                    postings: &term.postings,
                    at: 0,
                })
            })
            .collect()
    }

    /// True when the term's bitset tells a match: it is dense and every field is searched (so
    /// each of its postings contains it in a searched field).
    #[inline(always)]
    fn by_bit(&self, term: &Term) -> bool {
        self.bm25f.searched == 0b111 && term.is_dense()
    }

    /// True when `doc` contains each term of `checks` in a searched field.
    #[inline(always)]
    fn has_all(&self, checks: &[Check], cursors: &mut [Option<Cursor<'a>>], doc: u32) -> bool {
        for check in checks {
            let present = match *check {
                Check::Bit(term) => term.has(doc),
                Check::Seek(i) => self.seek_contains(&mut cursors[i], doc),
            };
            if !present {
                return false;
            }
        }
        true
    }

    /// True when the cursor's term is in `doc` in a searched field (the cursor moves to it).
    #[inline(always)]
    fn seek_contains(&self, cursor: &mut Option<Cursor<'a>>, doc: u32) -> bool {
        cursor
            .as_mut()
            .and_then(|c| c.seek(doc))
            .is_some_and(|p| self.bm25f.contains(p))
    }

    /// All-terms retrieval for a dense lead term, term at a time within the windows where the
    /// lead term has documents (no per-document seeks); sums in query-term order as above.
    fn for_each_all_terms_match_windowed(&self, lead: usize, visit: &mut impl FnMut(u32, f64)) {
        let index = self.index;
        let required = self.terms.iter().filter(|t| t.required).count();
        let lists: Vec<&[Posting]> = self
            .terms
            .iter()
            .map(|t| t.term.map_or(&[][..], |term| term.postings.as_slice()))
            .collect();
        let mut at = vec![0usize; lists.len()];
        let mut scores = vec![0.0f64; WINDOW as usize];
        let mut counts = vec![0usize; WINDOW as usize];
        let mut touched = [0u64; WORDS];
        while let Some(first) = lists[lead].get(at[lead]) {
            let base = first.doc - first.doc % WINDOW;
            let end = base.saturating_add(WINDOW);
            for ((t, list), i) in self.terms.iter().zip(&lists).zip(at.iter_mut()) {
                *i = skip_to(list, *i, base);
                while let Some(p) = list.get(*i).filter(|p| p.doc < end) {
                    *i += 1;
                    if self.bm25f.contains(p) {
                        let slot = (p.doc - base) as usize;
                        scores[slot] += t.score(&self.bm25f, p, &index.docs.lens);
                        counts[slot] += usize::from(t.required);
                        touched[slot / 64] |= 1 << (slot % 64);
                    }
                }
            }
            drain_bits(&mut touched, |slot| {
                let doc = base + slot as u32;
                if counts[slot] == required && self.filter.accepts(index, doc) {
                    visit(doc, scores[slot]);
                }
                scores[slot] = 0.0;
                counts[slot] = 0;
            });
        }
    }

    /// The number of all-terms matches that pass the filter, counted until it reaches `limit`
    /// (it may pass it): whether all-terms retrieval fills a page, decided before any score is
    /// computed. When every required term is tested by bit, their bitsets are intersected a
    /// word at a time; else the lead's documents are narrowed window by window.
    pub(super) fn count_all_terms(&self, limit: u64) -> u64 {
        let index = self.index;
        let Some((lead, checks)) = self.all_terms_plan() else {
            return 0;
        };
        let lead_term = self.terms[lead]
            .term
            .expect("the plan's terms have postings");
        let by_bit: Vec<&Term> = checks
            .iter()
            .filter_map(|check| match *check {
                Check::Bit(term) => Some(term),
                Check::Seek(_) => None,
            })
            .collect();
        let mut count = 0u64;
        if self.by_bit(lead_term) && by_bit.len() == checks.len() {
            for (w, &lead_word) in lead_term.bits.iter().enumerate() {
                let word = by_bit
                    .iter()
                    .fold(lead_word, |word, other| word & other.bits_word(w));
                count += self.filter.count_accepted(index, word, (w * 64) as u32);
                if count >= limit {
                    break;
                }
            }
            return count;
        }
        // Window by window: the lead's documents as a bitmap, narrowed by each other term in
        // turn (a bitset's words; a sparse term's postings marked, or, when few documents are
        // left, sought one by one), until nothing is left. The sparse terms go in the order of
        // the share of documents they have kept so far, fewest first: a query's terms are often
        // correlated (the bigrams of one word), and a term from another word empties the
        // window sooner.
        let doc_count = index.docs.alive.len().max(1);
        let mut cursors = self.cursors();
        let mut left = [0u64; WORDS];
        let mut other = [0u64; WORDS];
        let lead_list = &lead_term.postings[..];
        let mut next = 0;
        let mut order: Vec<usize> = (0..checks.len()).collect();
        // Per check: documents it was given and documents it kept, over the windows so far.
        let mut given_kept = vec![(0u64, 0u64); checks.len()];
        while let Some(first) = lead_list.get(next) {
            let base = first.doc - first.doc % WINDOW;
            let end = base.saturating_add(WINDOW);
            let first_word = base as usize / 64;
            // Bit w set when word w of `left` may be non-zero.
            let mut words = 0u64;
            // The documents in `left`.
            let mut documents_left = 0u64;
            while let Some(p) = lead_list.get(next).filter(|p| p.doc < end) {
                next += 1;
                if self.bm25f.contains(p) {
                    let slot = (p.doc - base) as usize;
                    left[slot / 64] |= 1 << (slot % 64);
                    words |= 1 << (slot / 64);
                    documents_left += 1;
                }
            }
            // Bit checks first (a word at a time, cheap), then by the share kept, compared as
            // kept_a / given_a < kept_b / given_b without division (+1 each: no zero).
            order.sort_by(|&a, &b| {
                let ((given_a, kept_a), (given_b, kept_b)) = (given_kept[a], given_kept[b]);
                let seek = |c: usize| matches!(checks[c], Check::Seek(_));
                seek(a).cmp(&seek(b)).then_with(|| {
                    (u128::from(kept_a + 1) * u128::from(given_b + 1))
                        .cmp(&(u128::from(kept_b + 1) * u128::from(given_a + 1)))
                })
            });
            for &check in &order {
                match checks[check] {
                    Check::Bit(term) => {
                        for_each_bit(words, |w| left[w] &= term.bits_word(first_word + w));
                    }
                    Check::Seek(i) => {
                        let cursor = &mut cursors[i];
                        let Some(c) = cursor.as_mut() else {
                            unreachable!("the plan's terms have postings")
                        };
                        let in_window = c.postings.len() * WINDOW as usize / doc_count;
                        if documents_left as usize * 8 < in_window {
                            for_each_bit(words, |w| {
                                for_each_bit(left[w], |bit| {
                                    let doc = base + (w * 64 + bit) as u32;
                                    if !self.seek_contains(cursor, doc) {
                                        left[w] &= !(1 << bit);
                                    }
                                });
                            });
                        } else {
                            c.at = skip_to(c.postings, c.at, base);
                            while let Some(p) = c.postings.get(c.at).filter(|p| p.doc < end) {
                                c.at += 1;
                                if self.bm25f.contains(p) {
                                    let slot = (p.doc - base) as usize;
                                    other[slot / 64] |= 1 << (slot % 64);
                                }
                            }
                            for (l, o) in left.iter_mut().zip(&mut other) {
                                *l &= std::mem::take(o);
                            }
                        }
                    }
                }
                let given = documents_left;
                documents_left = 0;
                for_each_bit(words, |w| {
                    documents_left += u64::from(left[w].count_ones());
                    if left[w] == 0 {
                        words &= !(1 << w);
                    }
                });
                let (given_so_far, kept_so_far) = &mut given_kept[check];
                *given_so_far += given;
                *kept_so_far += documents_left;
                if words == 0 {
                    break;
                }
            }
            for_each_bit(words, |w| {
                let word = std::mem::take(&mut left[w]);
                count += self
                    .filter
                    .count_accepted(index, word, base + (w * 64) as u32);
            });
            debug_assert!(left.iter().all(|&word| word == 0));
            if count >= limit {
                break;
            }
        }
        count
    }

    /// The first tier's count, up to `limit` (it may pass it): whether it fills a page.
    pub(super) fn count_first_tier(&self, limit: u64) -> u64 {
        if self.has_alternatives {
            let all = self.words.len();
            return self.for_each_word_count_match(all, all, &mut |_, _| {});
        }
        self.count_all_terms(limit)
    }

    /// Retrieval by counting words, window by window ([`WINDOW`] documents): the documents
    /// that have between `min_words` and `max_words` of the query's words (a word is matched
    /// when the document contains, in a searched field, each term of one of its alternatives)
    /// and pass the filter, each with its first-phase score summed over every query term in
    /// query-term order; returns their number. In each window every term of a word marks its
    /// documents, each word counts the documents that have one of its alternatives whole,
    /// and then the terms add their scores to the documents that qualify.
    fn for_each_word_count_match(
        &self,
        min_words: usize,
        max_words: usize,
        visit: &mut impl FnMut(u32, f64),
    ) -> u64 {
        let index = self.index;
        let lens = &index.docs.lens;
        let lists: Vec<&[Posting]> = self
            .terms
            .iter()
            .map(|t| t.term.map_or(&[][..], |term| term.postings.as_slice()))
            .collect();
        let mut at = vec![0usize; lists.len()];
        let mut present = vec![[0u64; WORDS]; lists.len()];
        let mut scores = vec![0.0f64; WINDOW as usize];
        let mut qualifies = [0u64; WORDS];
        let mut matches = 0u64;
        loop {
            // The next window: the one of the smallest document left in a word's term's list.
            let next = self
                .terms
                .iter()
                .zip(&lists)
                .zip(&at)
                .filter(|((t, _), _)| t.in_word)
                .filter_map(|((_, list), &i)| list.get(i).map(|p| p.doc))
                .min();
            let Some(next) = next else { break };
            let base = next - next % WINDOW;
            let end = base.saturating_add(WINDOW);
            let first_word = base as usize / 64;
            for (i, (t, list)) in self.terms.iter().zip(&lists).enumerate() {
                if !t.in_word {
                    continue;
                }
                if let Some(term) = t.term.filter(|term| self.by_bit(term)) {
                    // Dense, every field searched: its bitset says it at once.
                    for (w, bits) in present[i].iter_mut().enumerate() {
                        *bits = term.bits_word(first_word + w);
                    }
                    continue;
                }
                at[i] = skip_to(list, at[i], base);
                let mut j = at[i];
                while let Some(p) = list.get(j).filter(|p| p.doc < end) {
                    j += 1;
                    if self.bm25f.contains(p) {
                        let slot = (p.doc - base) as usize;
                        present[i][slot / 64] |= 1 << (slot % 64);
                    }
                }
            }
            // Per slot, the number of words it has, bit-sliced: bit b of `planes[b][w]` is bit b
            // of the count of slot 64·w + the bit's index (up to 255: a query of at most 100
            // characters has fewer words).
            let mut planes = [[0u64; WORDS]; 8];
            let mut touched = [0u64; WORDS];
            for word in &self.words {
                for w in 0..WORDS {
                    let mut carry = word.alternatives.iter().fold(0u64, |any, alternative| {
                        any | alternative
                            .iter()
                            .fold(u64::MAX, |bits, &i| bits & present[i][w])
                    });
                    touched[w] |= carry;
                    for plane in &mut planes {
                        if carry == 0 {
                            break;
                        }
                        let next = plane[w] & carry;
                        plane[w] ^= carry;
                        carry = next;
                    }
                }
            }
            for (w, (q, &candidates)) in qualifies.iter_mut().zip(&touched).enumerate() {
                if candidates == 0 {
                    *q = 0;
                    continue;
                }
                // The slots whose count is in min_words..=max_words, a count at a time.
                let mut in_range = 0u64;
                for count in min_words..=max_words {
                    in_range |= planes
                        .iter()
                        .enumerate()
                        .fold(candidates, |bits, (b, plane)| {
                            bits & if count >> b & 1 == 1 {
                                plane[w]
                            } else {
                                !plane[w]
                            }
                        });
                }
                let mut word = 0u64;
                for_each_bit(in_range, |bit| {
                    if self.filter.accepts(index, base + (w * 64 + bit) as u32) {
                        word |= 1 << bit;
                    }
                });
                *q = word;
            }
            for p in present.iter_mut() {
                *p = [0; WORDS];
            }
            for ((t, list), i) in self.terms.iter().zip(&lists).zip(at.iter_mut()) {
                *i = skip_to(list, *i, base);
                if let Some(term) = t.term.filter(|term| self.by_bit(term)) {
                    // A bit per posting: a document's posting comes after as many postings
                    // as there are bits before its own, so only the qualifying ones are read.
                    let mut before = *i;
                    for (w, &wanted) in qualifies.iter().enumerate() {
                        let bits = term.bits_word(first_word + w);
                        for_each_bit(wanted & bits, |bit| {
                            let below = bits & ((1u64 << bit) - 1);
                            let posting = &list[before + below.count_ones() as usize];
                            debug_assert_eq!(posting.doc, base + (w * 64 + bit) as u32);
                            scores[w * 64 + bit] += t.score(&self.bm25f, posting, lens);
                        });
                        before += bits.count_ones() as usize;
                    }
                    *i = before;
                    continue;
                }
                while let Some(p) = list.get(*i).filter(|p| p.doc < end) {
                    *i += 1;
                    let slot = (p.doc - base) as usize;
                    if qualifies[slot / 64] & 1 << (slot % 64) != 0 && self.bm25f.contains(p) {
                        scores[slot] += t.score(&self.bm25f, p, lens);
                    }
                }
            }
            drain_bits(&mut qualifies, |slot| {
                matches += 1;
                visit(base + slot as u32, std::mem::take(&mut scores[slot]));
            });
        }
        matches
    }
}
