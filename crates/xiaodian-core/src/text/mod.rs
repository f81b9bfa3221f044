//! Text analysis shared by indexing and queries: normalisation, then tokens per script run.
//!
//! Normalisation is NFKC (which also folds full-width letters and digits to half-width) and
//! lowercase. The normalised text is cut into runs of one script: Han, letters, digits;
//! anything else separates runs. A letter run and a digit run are one token each, so
//! "iPhone15手机壳" gives `iphone`, `15` and the Han tokens. A Han run of one character is that
//! character; a longer run gives every character bigram (so infix queries match: `处理` finds
//! `待处理`) and, in [`AnalysisMode::Full`], the dictionary words jieba finds that are not
//! bigrams themselves (single characters, and words of three or more characters).

pub mod pinyin;

use crate::error::{CoreError, CoreResult, FieldViolation};
use jieba_rs::Jieba;
use unicode_normalization::UnicodeNormalization;

/// Which tokens a Han run yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisMode {
    /// Bigrams plus jieba's words (the engine's default).
    Full,
    /// Bigrams only (the peer-oracle comparison with tantivy uses the same tokens).
    BigramsOnly,
}

/// NFKC, then lowercase. Full-width `ＩＰｈｏｎｅ１５` becomes `iphone15`.
pub fn normalize(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).collect()
}

/// True for CJK ideographs (the Unified Ideographs blocks and their extensions).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x30000..=0x323AF)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Han,
    Letter,
    Digit,
}

fn script(c: char) -> Option<Script> {
    if is_han(c) {
        Some(Script::Han)
    } else if c.is_ascii_digit() {
        Some(Script::Digit)
    } else if c.is_alphabetic() {
        Some(Script::Letter)
    } else {
        None
    }
}

/// One distinct term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    /// The token, as the analyzer produced it.
    pub text: String,
    /// All-terms retrieval requires it; otherwise it only adds to the score.
    pub required: bool,
    /// Only a synonym brings it: its score is weighed by the profile's `synonym_weight`.
    pub synonym: bool,
    /// Only an approximation brings it (`rank::approximate`): its score is weighed by the
    /// profile's `approximate_weight`.
    pub approximate: bool,
}

/// How a query word that no product has as typed is matched (`rank::approximate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproximateKind {
    /// Full pinyin, spaced or not (`yangrong`: 羊绒).
    Pinyin,
    /// Pinyin initials (`yr`: 羊绒).
    Initials,
    /// Chinese characters that sound the same (洋绒: 羊绒).
    SameSound,
    /// A Latin word within a small edit distance (`iphnoe`: iphone).
    Typo,
}

impl ApproximateKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pinyin => "pinyin",
            Self::Initials => "initials",
            Self::SameSound => "same_sound",
            Self::Typo => "typo",
        }
    }
}

/// A query's terms and words ([`Analyzer::analyze_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzedQuery {
    pub terms: Vec<QueryTerm>,
    pub words: Vec<QueryWord>,
}

impl AnalyzedQuery {
    /// True when a word can be matched more than one way (a synonym, a negated word).
    pub fn has_alternatives(&self) -> bool {
        self.words.iter().any(|w| w.alternatives.len() > 1)
    }
}

/// One query word: a product has it when it contains every term of one alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// The indices in the query's terms of each alternative's terms, ascending; the first
    /// alternative is the word as typed, the others its synonyms.
    pub alternatives: Vec<Vec<usize>>,
    /// The text of each alternative after the first (normalised): a synonym, or for a
    /// negated word the same word under another modifier.
    pub synonyms: Vec<String>,
    /// The word as typed (normalised).
    pub text: String,
    /// A word under a negating modifier (its alternatives: the word under each modifier).
    pub negated: bool,
    /// A run of letters (`iphone`, `yangrong`).
    pub letters: bool,
    /// Its alternatives after the first are approximations of this kind (the first, as
    /// typed, matches nothing): `synonyms` holds their texts.
    pub approximate: Option<ApproximateKind>,
}

/// A query word while its terms are gathered: each alternative's term texts, the text of
/// each alternative after the first, the word as typed, whether it is negated.
struct WordDraft {
    alternatives: Vec<Vec<String>>,
    texts: Vec<String>,
    text: String,
    negated: bool,
    letters: bool,
}

/// The character bigrams of a run of two or more characters, in order.
fn bigrams(chars: &[char]) -> Vec<String> {
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// The maximal runs of one script in normalised text, in order, as slices of it; other
/// characters separate runs. Each run says whether it directly follows a letter or digit run
/// (no character between: the 类 of "A类", a grade, not a modifier).
fn runs(normalized: &str) -> Vec<(&str, Script, bool)> {
    let mut out: Vec<(&str, Script, bool)> = Vec::new();
    let mut start = 0;
    let mut run_script = None;
    // The previous run's end and script.
    let mut previous: Option<(usize, Script)> = None;
    for (i, c) in normalized.char_indices() {
        let s = script(c);
        if s != run_script {
            if let Some(current) = run_script {
                let after_latin = previous.is_some_and(|(end, p)| end == start && p != Script::Han);
                out.push((&normalized[start..i], current, after_latin));
                previous = Some((i, current));
            }
            run_script = s;
            start = i;
        }
    }
    if let Some(current) = run_script {
        let after_latin = previous.is_some_and(|(end, p)| end == start && p != Script::Han);
        out.push((&normalized[start..], current, after_latin));
    }
    out
}

/// The negating modifiers recognised by default (SPEC §3): 仿羊绒 is not 羊绒.
pub const DEFAULT_NEGATING_MODIFIERS: &[&str] = &["仿", "类", "非", "假", "人造"];
/// Longest phrase of two words ([`Analyzer::token_and_phrase_slices`]), in characters.
pub const MAX_PHRASE_CHARS: usize = 8;
/// Longest word tried after a negating modifier, in characters.
const MAX_NEGATED_CHARS: usize = 4;
/// Most negating modifiers an analyzer takes.
pub const MAX_NEGATING_MODIFIERS: usize = 20;

/// The rules of a list of negating modifiers: at most [`MAX_NEGATING_MODIFIERS`], each 1-4
/// Chinese characters; violations name `negating_modifiers[i]`.
pub fn check_negating_modifiers(modifiers: &[String]) -> CoreResult<()> {
    let mut violations = Vec::new();
    if modifiers.len() > MAX_NEGATING_MODIFIERS {
        violations.push(FieldViolation::new(
            "negating_modifiers",
            format!("must have at most {MAX_NEGATING_MODIFIERS} entries"),
        ));
    }
    for (i, modifier) in modifiers.iter().enumerate() {
        let normalized = normalize(modifier);
        if !(1..=4).contains(&normalized.chars().count()) || !normalized.chars().all(is_han) {
            violations.push(FieldViolation::new(
                format!("negating_modifiers[{i}]"),
                "must be 1-4 Chinese characters",
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(violations))
    }
}

/// A word under a negating modifier in a Han run, in characters: the modifier starts at
/// `start`, the word is `word_start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Negation {
    start: usize,
    word_start: usize,
    end: usize,
}

impl Negation {
    /// True when characters `i..j` lie inside the modifier and its word.
    fn covers(&self, i: usize, j: usize) -> bool {
        self.start <= i && j <= self.end
    }
}

/// Turns text into tokens. Construction loads jieba's dictionary (in `Full` mode), so build
/// one analyzer and share it; analysis itself takes `&self` and is thread-safe.
///
/// Negating modifiers (`Full` mode): where a jieba word starts with a modifier (仿, 类, 非, 假,
/// 人造 by default; 仿羊绒, or 仿 alone before 羊绒), the shortest dictionary word of 2 to 4
/// characters right after the modifier is *negated*: the text gives the token modifier + word
/// (仿羊绒) instead of the word's own bigrams and jieba words, so 羊绒 does not match it and
/// 仿羊绒 (or 类羊绒: every modifier) does. 非常好看 negates nothing: 常好 and 常好看 are no words.
pub struct Analyzer {
    jieba: Option<Jieba>,
    /// Normalised, longest first.
    negating_modifiers: Vec<String>,
}

impl Analyzer {
    pub fn new(mode: AnalysisMode) -> Self {
        let modifiers: Vec<String> = DEFAULT_NEGATING_MODIFIERS
            .iter()
            .map(|&m| m.to_owned())
            .collect();
        Self::with_negating_modifiers(mode, &modifiers)
    }

    /// An analyzer with these negating modifiers (`Full` mode only; each should be checked
    /// with [`check_negating_modifiers`]).
    pub fn with_negating_modifiers(mode: AnalysisMode, modifiers: &[String]) -> Self {
        let jieba = match mode {
            AnalysisMode::Full => Some(Jieba::new()),
            AnalysisMode::BigramsOnly => None,
        };
        let mut negating_modifiers: Vec<String> = modifiers.iter().map(|m| normalize(m)).collect();
        negating_modifiers.sort_by_key(|m| std::cmp::Reverse(m.chars().count()));
        negating_modifiers.dedup();
        Self {
            jieba,
            negating_modifiers,
        }
    }

    /// The negating modifiers, normalised, longest first (none matter in `BigramsOnly` mode).
    pub fn negating_modifiers(&self) -> &[String] {
        &self.negating_modifiers
    }

    /// The negated words of a Han run ([`Analyzer`]), from jieba's cut (its words' lengths);
    /// a run right after a letter or digit ("A类") has no modifier at its start.
    fn negations(&self, chars: &[char], lengths: &[usize], after_latin: bool) -> Vec<Negation> {
        let Some(jieba) = &self.jieba else {
            return Vec::new();
        };
        let mut out: Vec<Negation> = Vec::new();
        let mut start = 0;
        for &n in lengths {
            let p = start;
            start += n;
            if out.last().is_some_and(|last| p < last.end) || (p == 0 && after_latin) {
                continue;
            }
            let Some(modifier) = self.negating_modifiers.iter().find(|m| {
                let m_len = m.chars().count();
                p + m_len <= chars.len() && m.chars().eq(chars[p..p + m_len].iter().copied())
            }) else {
                continue;
            };
            let q = p + modifier.chars().count();
            let word = (2..=MAX_NEGATED_CHARS)
                .filter(|w| q + w <= chars.len())
                .find(|w| jieba.has_word(&chars[q..q + w].iter().collect::<String>()));
            if let Some(w) = word {
                out.push(Negation {
                    start: p,
                    word_start: q,
                    end: q + w,
                });
            }
        }
        out
    }

    /// jieba's cut of a Han run as word lengths in characters (each character a word without
    /// jieba).
    fn cut_lengths(&self, run: &str) -> Vec<usize> {
        match &self.jieba {
            Some(jieba) => jieba
                .cut(run, false)
                .iter()
                .map(|t| t.end - t.start)
                .collect(),
            None => vec![1; run.chars().count()],
        }
    }

    /// True when jieba's dictionary has the word (never without jieba).
    pub fn is_dictionary_word(&self, word: &str) -> bool {
        self.jieba
            .as_ref()
            .is_some_and(|jieba| jieba.has_word(word))
    }

    pub fn mode(&self) -> AnalysisMode {
        if self.jieba.is_some() {
            AnalysisMode::Full
        } else {
            AnalysisMode::BigramsOnly
        }
    }

    /// Tokens of `text` in order of appearance, repeats kept (term frequency counts them).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let normalized = normalize(text);
        let mut tokens = Vec::new();
        self.token_slices(&normalized, &mut tokens);
        tokens.into_iter().map(str::to_owned).collect()
    }

    /// The tokens of already normalised text, as slices of it (no allocation per token):
    /// what [`Analyzer::tokens`] returns for the text before normalisation.
    pub fn token_slices<'a>(&self, normalized: &'a str, tokens: &mut Vec<&'a str>) {
        for (run, script, after_latin) in runs(normalized) {
            self.push_run(run, script, after_latin, tokens, None);
        }
    }

    /// [`Analyzer::token_slices`], and the text's *phrases* in `phrases`. The
    /// *units* of a Han run are jieba's words that are dictionary words outside a negation,
    /// except that exactly two one-character words in a row are one unit (卫 衣 → 卫衣, 天 丝 →
    /// 天丝: jieba's dictionary lacks many shop words). Phrases: two or three units in a row,
    /// together at most [`MAX_PHRASE_CHARS`] characters (羊绒围巾, 羊毛卫衣, 充电宝, 无硅油漱口水),
    /// and each unit of two merged characters. None without jieba. Suggest offers them, and
    /// approximate matching spells them.
    pub fn token_and_phrase_slices<'a>(
        &self,
        normalized: &'a str,
        tokens: &mut Vec<&'a str>,
        phrases: &mut Vec<&'a str>,
    ) {
        for (run, script, after_latin) in runs(normalized) {
            self.push_run(run, script, after_latin, tokens, Some(&mut *phrases));
        }
    }

    /// The query's terms: its distinct tokens in order of first appearance, each marked
    /// required or not (see [`Analyzer::analyze_query`]).
    pub fn query_terms(&self, text: &str) -> Vec<QueryTerm> {
        self.analyze_query(text, &[]).terms
    }

    /// The query's terms and words, with `synonyms` (groups of words, as in a ranking profile).
    ///
    /// Terms: the query's distinct tokens in order of first appearance, each marked required
    /// or not, then the terms only synonyms bring (not required, `synonym`). Required are
    /// letter and digit tokens, lone Han characters, every bigram except those that straddle
    /// the edge of a word of two or more characters ("羊绒围巾" requires 羊绒 and 围巾, not 绒围;
    /// "包邮", which jieba cuts into 包 and 邮, requires 包邮), and a one-character jieba word
    /// between longer ones or at the run's edge (小 in 小容量). In `BigramsOnly` mode every
    /// bigram is required. jieba's words of three or more characters only add to the score;
    /// its other one-character words are left out (the bigrams of 包邮 cover them). Every
    /// query with a token has a required term.
    ///
    /// Words (what tiers count, SPEC §3): a letter or digit run, a lone Han character, a
    /// word under a negating modifier (with the modifier), a synonym found in a Han run
    /// (longest first, left to right; it overrides jieba's cut), a jieba word of two or more
    /// characters, each bigram of a run of two or more one-character jieba words ("包邮";
    /// 逗猫棒 gives 逗猫 and 猫棒), and a one-character jieba word alone (小 in 小容量).
    /// A word of two or more characters is matched by its bigrams, a one-character word by
    /// its character. A synonym's word has one alternative more for each other word of its
    /// group (that word's bigrams). Words with the same alternatives are counted once, in
    /// order of first appearance; every required term is in a word's first alternative.
    pub fn analyze_query(&self, text: &str, synonyms: &[Vec<String>]) -> AnalyzedQuery {
        // The tokens (what `tokens` gives), gathered in the same pass as the words.
        let mut tokens: Vec<String> = Vec::new();
        let groups: Vec<Vec<String>> = synonyms
            .iter()
            .map(|group| group.iter().map(|word| normalize(word)).collect())
            .collect();
        let mut required: Vec<String> = Vec::new();
        let mut word_texts: Vec<WordDraft> = Vec::new();
        let normalized = normalize(text);
        for (run, script, after_latin) in runs(&normalized) {
            let chars: Vec<char> = run.chars().collect();
            if script != Script::Han || chars.len() == 1 {
                tokens.push(run.to_owned());
                required.push(run.to_owned());
                word_texts.push(WordDraft {
                    alternatives: vec![vec![run.to_owned()]],
                    texts: Vec::new(),
                    text: run.to_owned(),
                    negated: false,
                    letters: script == Script::Letter,
                });
                continue;
            }
            // unit[i]: (start, length) of the unit holding character i: a negated word with
            // its modifier, a synonym found here, else its jieba word (every character its
            // own word without jieba) unless that word overlaps one of those, then the
            // character alone.
            let lengths = self.cut_lengths(run);
            let negations = self.run_negations(run, &lengths, after_latin);
            let mut slices = Vec::new();
            self.push_han_run(run, &lengths, &negations, &mut slices);
            tokens.extend(slices.into_iter().map(str::to_owned));
            let mut unit: Vec<(usize, usize)> = (0..chars.len()).map(|i| (i, 1)).collect();
            let mut taken = vec![false; chars.len()];
            for n in &negations {
                unit[n.start..n.end].fill((n.start, n.end - n.start));
                taken[n.start..n.end].fill(true);
            }
            let mut found: Vec<Option<usize>> = vec![None; chars.len()];
            let mut i = 0;
            while i < chars.len() {
                let longest = groups
                    .iter()
                    .enumerate()
                    .flat_map(|(g, group)| group.iter().map(move |word| (g, word)))
                    .filter(|(_, word)| {
                        let n = word.chars().count();
                        i + n <= chars.len()
                            && !taken[i..i + n].iter().any(|&t| t)
                            && word.chars().eq(chars[i..i + n].iter().copied())
                    })
                    .map(|(g, word)| (word.chars().count(), g))
                    .max_by_key(|&(n, g)| (n, std::cmp::Reverse(g)));
                match longest {
                    Some((n, g)) => {
                        unit[i..i + n].fill((i, n));
                        taken[i..i + n].fill(true);
                        found[i..i + n].fill(Some(g));
                        i += n;
                    }
                    None => i += 1,
                }
            }
            if self.jieba.is_some() {
                let mut i = 0;
                for &n in &lengths {
                    if n > 1 && !taken[i..i + n].iter().any(|&t| t) {
                        unit[i..i + n].fill((i, n));
                    }
                    i += n;
                }
            }
            // Words: a unit of two or more characters; a run of one-character units.
            let mut i = 0;
            while i < chars.len() {
                let n = if unit[i].1 > 1 {
                    unit[i].1
                } else {
                    unit[i..].iter().take_while(|u| u.1 == 1).count()
                };
                let span = &chars[i..i + n];
                let spoken: String = span.iter().collect();
                let negation = negations.iter().find(|neg| neg.start == i);
                let mut alternatives: Vec<Vec<String>>;
                let mut texts = Vec::new();
                if let Some(neg) = negation {
                    // One token, modifier and word; every other modifier is an alternative.
                    let word: String = chars[neg.word_start..neg.end].iter().collect();
                    alternatives = vec![vec![spoken.clone()]];
                    for modifier in &self.negating_modifiers {
                        let other = format!("{modifier}{word}");
                        if other != spoken {
                            alternatives.push(vec![other.clone()]);
                            texts.push(other);
                        }
                    }
                } else if unit[i].1 == 1 && n > 1 {
                    // A run of one-character words: each of its bigrams is a word (包邮 one,
                    // 逗猫棒 two), so a longer run is not one phrase that must appear whole.
                    for bigram in bigrams(span) {
                        required.push(bigram.clone());
                        word_texts.push(WordDraft {
                            alternatives: vec![vec![bigram.clone()]],
                            texts: Vec::new(),
                            text: bigram,
                            negated: false,
                            letters: false,
                        });
                    }
                    i += n;
                    continue;
                } else {
                    let own = if n == 1 {
                        vec![spoken.clone()]
                    } else {
                        bigrams(span)
                    };
                    alternatives = vec![own];
                    if let Some(g) = found[i].filter(|_| unit[i].1 > 1) {
                        for word in groups[g].iter().filter(|&word| *word != spoken) {
                            let word_chars: Vec<char> = word.chars().collect();
                            alternatives.push(bigrams(&word_chars));
                            texts.push(word.clone());
                        }
                    }
                }
                required.extend(alternatives[0].iter().cloned());
                word_texts.push(WordDraft {
                    alternatives,
                    texts,
                    text: spoken,
                    negated: negation.is_some(),
                    letters: false,
                });
                i += n;
            }
        }
        let mut terms: Vec<QueryTerm> = Vec::new();
        for token in tokens {
            // A one-character word inside a longer run is covered by that run's bigrams.
            let inner_character = token.chars().count() == 1 && !required.contains(&token);
            if !inner_character && !terms.iter().any(|t| t.text == token) {
                let is_required = required.contains(&token);
                terms.push(QueryTerm {
                    text: token,
                    required: is_required,
                    synonym: false,
                    approximate: false,
                });
            }
        }
        // A required term the tokens lack (a synonym's bigram where jieba cut otherwise is
        // still a bigram of the run, so none is missing) is added all the same.
        for draft in &word_texts {
            let negated = draft.negated;
            for (k, texts) in draft.alternatives.iter().enumerate() {
                for text in texts {
                    if !terms.iter().any(|t| &t.text == text) {
                        terms.push(QueryTerm {
                            text: text.clone(),
                            required: k == 0,
                            synonym: k > 0 && !negated,
                            approximate: false,
                        });
                    }
                }
            }
        }
        let mut words: Vec<QueryWord> = Vec::new();
        for draft in word_texts {
            let alternatives: Vec<Vec<usize>> = draft
                .alternatives
                .iter()
                .map(|texts| {
                    let mut ids: Vec<usize> = texts
                        .iter()
                        .map(|text| {
                            terms
                                .iter()
                                .position(|t| &t.text == text)
                                .expect("every word's term is a query term")
                        })
                        .collect();
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                })
                .collect();
            let word = QueryWord {
                alternatives,
                synonyms: draft.texts,
                text: draft.text,
                negated: draft.negated,
                letters: draft.letters,
                approximate: None,
            };
            if !words.contains(&word) {
                words.push(word);
            }
        }
        AnalyzedQuery { terms, words }
    }

    fn push_run<'a>(
        &self,
        run: &'a str,
        script: Script,
        after_latin: bool,
        tokens: &mut Vec<&'a str>,
        phrases: Option<&mut Vec<&'a str>>,
    ) {
        match script {
            Script::Letter | Script::Digit => tokens.push(run),
            Script::Han => {
                if run.chars().nth(1).is_none() {
                    tokens.push(run);
                    return;
                }
                let lengths = self.cut_lengths(run);
                let negations = self.run_negations(run, &lengths, after_latin);
                self.push_han_run(run, &lengths, &negations, tokens);
                if let Some(phrases) = phrases {
                    self.push_phrases(run, &lengths, &negations, phrases);
                }
            }
        }
    }

    /// The negated words of a Han run of two or more characters ([`Analyzer::negations`]);
    /// none, at no cost, for a run that holds no modifier.
    fn run_negations(&self, run: &str, lengths: &[usize], after_latin: bool) -> Vec<Negation> {
        if self
            .negating_modifiers
            .iter()
            .any(|m| run.contains(m.as_str()))
        {
            let chars: Vec<char> = run.chars().collect();
            self.negations(&chars, lengths, after_latin)
        } else {
            Vec::new()
        }
    }

    /// The phrases of a Han run ([`Analyzer::token_and_phrase_slices`]).
    fn push_phrases<'a>(
        &self,
        run: &'a str,
        lengths: &[usize],
        negations: &[Negation],
        phrases: &mut Vec<&'a str>,
    ) {
        let Some(jieba) = &self.jieba else {
            return;
        };
        let starts: Vec<usize> = run.char_indices().map(|(i, _)| i).collect();
        let byte = |i: usize| starts.get(i).copied().unwrap_or(run.len());
        // Units, in characters: (start, end, merged), None for a word that breaks phrases.
        let mut units: Vec<Option<(usize, usize, bool)>> = Vec::with_capacity(lengths.len());
        let mut start = 0;
        for &n in lengths {
            let end = start + n;
            let outside = !negations
                .iter()
                .any(|neg| start < neg.end && neg.start < end);
            let word = outside && jieba.has_word(&run[byte(start)..byte(end)]);
            units.push(word.then_some((start, end, false)));
            start = end;
        }
        // Exactly two one-character words in a row are one unit (卫 衣: 卫衣).
        let single = |u: &Option<(usize, usize, bool)>| u.is_some_and(|(s, e, _)| e - s == 1);
        let mut merged: Vec<Option<(usize, usize, bool)>> = Vec::with_capacity(units.len());
        let mut i = 0;
        while i < units.len() {
            let pair = single(&units[i])
                && units.get(i + 1).is_some_and(single)
                && (i == 0 || !single(&units[i - 1]))
                && !units.get(i + 2).is_some_and(single);
            if pair {
                let (first, _, _) = units[i].expect("a unit");
                let (_, end, _) = units[i + 1].expect("a unit");
                merged.push(Some((first, end, true)));
                i += 2;
            } else {
                merged.push(units[i]);
                i += 1;
            }
        }
        for (i, unit) in merged.iter().enumerate() {
            let Some((first, end, pair)) = *unit else {
                continue;
            };
            if pair {
                phrases.push(&run[byte(first)..byte(end)]);
            }
            for next in merged[i + 1..].iter().take(2) {
                let Some((_, last, _)) = *next else { break };
                if last - first > MAX_PHRASE_CHARS {
                    break;
                }
                phrases.push(&run[byte(first)..byte(last)]);
            }
        }
    }

    /// The tokens of a Han run of two or more characters, cut by jieba into words of
    /// `lengths` characters, with its `negations`: its bigrams but those inside a negated
    /// word, then (with jieba) its words of other than two characters but those inside a
    /// negation, then each negated word with its modifier.
    fn push_han_run<'a>(
        &self,
        run: &'a str,
        lengths: &[usize],
        negations: &[Negation],
        tokens: &mut Vec<&'a str>,
    ) {
        let starts: Vec<usize> = run.char_indices().map(|(i, _)| i).collect();
        let byte = |i: usize| starts.get(i).copied().unwrap_or(run.len());
        let negated =
            |i: usize, j: usize| negations.iter().any(|n| n.word_start <= i && j <= n.end);
        for pair in 0..starts.len() - 1 {
            if !negated(pair, pair + 2) {
                tokens.push(&run[byte(pair)..byte(pair + 2)]);
            }
        }
        if self.jieba.is_some() {
            let mut start = 0;
            for &n in lengths {
                let inside = negations.iter().any(|neg| neg.covers(start, start + n));
                if n != 2 && !inside {
                    tokens.push(&run[byte(start)..byte(start + n)]);
                }
                start += n;
            }
        }
        for n in negations {
            tokens.push(&run[byte(n.start)..byte(n.end)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Analyzer {
        Analyzer::new(AnalysisMode::Full)
    }

    #[test]
    fn normalisation_folds_width_and_case() {
        assert_eq!(normalize("ＩＰｈｏｎｅ１５ Pro"), "iphone15 pro");
        assert_eq!(normalize("羊绒\u{3000}围巾"), "羊绒 围巾");
    }

    #[test]
    fn mixed_script_splits_where_the_script_changes() {
        let tokens = full().tokens("iPhone15手机壳");
        assert_eq!(&tokens[..4], ["iphone", "15", "手机", "机壳"]);
        assert!(
            tokens.contains(&"手机壳".to_owned()) || tokens.contains(&"壳".to_owned()),
            "{tokens:?}"
        );
    }

    #[test]
    fn infix_bigrams() {
        let analyzer = Analyzer::new(AnalysisMode::BigramsOnly);
        assert!(analyzer.tokens("待处理").contains(&"处理".to_owned()));
        assert!(analyzer
            .tokens("中国农业发展银行")
            .contains(&"农业".to_owned()));
        assert_eq!(analyzer.tokens("处理"), ["处理"]);
    }

    #[test]
    fn single_han_character_and_jieba_words() {
        let tokens = full().tokens("羊绒围巾女");
        for expected in ["羊绒", "绒围", "围巾", "巾女", "女"] {
            assert!(
                tokens.contains(&expected.to_owned()),
                "{expected} in {tokens:?}"
            );
        }
        assert_eq!(full().tokens("女 款"), ["女", "款"]);
    }

    #[test]
    fn query_terms_require_bigrams_inside_words() {
        let terms = full().query_terms("羊绒围巾 iPhone");
        let required: Vec<&str> = terms
            .iter()
            .filter(|t| t.required)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(required, ["羊绒", "围巾", "iphone"]);
        let straddling = terms.iter().find(|t| t.text == "绒围").unwrap();
        assert!(!straddling.required);
        // A one-character word beside a longer one is required: 小容量 is not 大容量.
        let with_single = full().query_terms("羊绒围巾女");
        assert!(
            with_single.iter().any(|t| t.text == "女" && t.required),
            "{with_single:?}"
        );
        assert_eq!(full().query_terms("女")[0].text, "女");
        let bigram_only = Analyzer::new(AnalysisMode::BigramsOnly).query_terms("羊绒围巾");
        assert!(bigram_only.iter().all(|t| t.required) && bigram_only.len() == 3);
    }

    #[test]
    fn a_bigram_between_single_character_words_is_required() {
        // jieba cuts 包邮 into 包 and 邮: the bigram is still required, the characters are not.
        let terms = full().query_terms("包邮");
        let required: Vec<(&str, bool)> = terms
            .iter()
            .map(|t| (t.text.as_str(), t.required))
            .collect();
        assert_eq!(required, [("包邮", true)]);
    }

    #[test]
    fn query_words_group_the_required_terms() {
        let words = |analyzer: &Analyzer, text: &str| -> Vec<Vec<String>> {
            let query = analyzer.analyze_query(text, &[]);
            query
                .words
                .iter()
                .map(|word| {
                    word.alternatives[0]
                        .iter()
                        .map(|&i| query.terms[i].text.clone())
                        .collect()
                })
                .collect()
        };
        assert_eq!(
            words(&full(), "羊绒围巾 iPhone 15"),
            [["羊绒"], ["围巾"], ["iphone"], ["15"]]
        );
        assert_eq!(words(&full(), "包邮"), [["包邮"]]);
        assert_eq!(words(&full(), "小容量"), [["小"], ["容量"]]);
        // A word repeated is one word; a word of three characters is its two bigrams.
        assert_eq!(words(&full(), "围巾 围巾"), [["围巾"]]);
        let bigrams = Analyzer::new(AnalysisMode::BigramsOnly);
        assert_eq!(
            words(&bigrams, "羊绒围巾 女"),
            [vec!["羊绒"], vec!["绒围"], vec!["围巾"], vec!["女"]]
        );
        for text in [
            "羊绒围巾女款冬季加厚",
            "纯棉加厚浴巾",
            "小容量保温杯 316不锈钢",
        ] {
            let query = full().analyze_query(text, &[]);
            for (i, term) in query.terms.iter().enumerate() {
                let in_word = query.words.iter().any(|w| w.alternatives[0].contains(&i));
                assert_eq!(term.required, in_word, "{text}: {}", term.text);
            }
        }
    }

    #[test]
    fn a_synonym_in_the_query_is_one_word_with_an_alternative_per_other_word() {
        let synonyms = vec![vec![
            "手机壳".to_owned(),
            "手机套".to_owned(),
            "保护壳".to_owned(),
        ]];
        let query = full().analyze_query("硅胶手机套 防摔", &synonyms);
        let texts = |ids: &[usize]| -> Vec<&str> {
            ids.iter().map(|&i| query.terms[i].text.as_str()).collect()
        };
        let phone = query
            .words
            .iter()
            .find(|w| w.alternatives.len() > 1)
            .unwrap();
        assert_eq!(texts(&phone.alternatives[0]), ["手机", "机套"]);
        assert_eq!(texts(&phone.alternatives[1]), ["手机", "机壳"]);
        assert_eq!(texts(&phone.alternatives[2]), ["保护", "护壳"]);
        assert_eq!(phone.synonyms, ["手机壳", "保护壳"]);
        let by_synonym: Vec<&str> = query
            .terms
            .iter()
            .filter(|t| t.synonym)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(by_synonym, ["机壳", "保护", "护壳"]);
        assert!(
            query.has_alternatives() && !full().analyze_query("硅胶手机套", &[]).has_alternatives()
        );
    }

    #[test]
    fn a_word_under_a_negating_modifier_is_one_token_with_it() {
        let tokens = |text: &str| full().tokens(text);
        let imitation = tokens("仿羊绒围巾");
        assert!(imitation.contains(&"仿羊绒".to_owned()), "{imitation:?}");
        assert!(!imitation.contains(&"羊绒".to_owned()), "{imitation:?}");
        assert!(imitation.contains(&"围巾".to_owned()) && imitation.contains(&"仿羊".to_owned()));
        let sofa = tokens("人造真皮沙发");
        assert!(sofa.contains(&"人造真皮".to_owned()) && sofa.contains(&"沙发".to_owned()));
        assert!(!sofa.contains(&"真皮".to_owned()), "{sofa:?}");
        // No dictionary word after the modifier: nothing is negated.
        assert!(tokens("非常好看").contains(&"好看".to_owned()));
        assert!(tokens("仿真植物").contains(&"植物".to_owned()));
        // The plain word elsewhere in the title still matches.
        assert!(tokens("羊绒手感 仿羊绒围巾").contains(&"羊绒".to_owned()));
        // Bigrams only: no jieba, no negation.
        let bigrams = Analyzer::new(AnalysisMode::BigramsOnly).tokens("仿羊绒");
        assert_eq!(bigrams, ["仿羊", "羊绒"]);
        // A query's negated word matches the word under any modifier.
        let query = full().analyze_query("仿羊绒围巾", &[]);
        let word = query.words.iter().find(|w| w.negated).unwrap();
        let texts: Vec<&str> = word
            .alternatives
            .iter()
            .map(|a| query.terms[a[0]].text.as_str())
            .collect();
        assert_eq!(texts, ["仿羊绒", "人造羊绒", "类羊绒", "非羊绒", "假羊绒"]);
    }

    #[test]
    fn phrases_are_dictionary_words_in_a_row() {
        let phrases = |text: &str| -> Vec<String> {
            let normalized = normalize(text);
            let (mut tokens, mut found) = (Vec::new(), Vec::new());
            full().token_and_phrase_slices(&normalized, &mut tokens, &mut found);
            assert_eq!(tokens, full().tokens(text));
            found.into_iter().map(str::to_owned).collect()
        };
        let scarf = phrases("羊绒围巾 冬季加厚");
        for expected in ["羊绒围巾", "冬季加厚"] {
            assert!(
                scarf.contains(&expected.to_owned()),
                "{expected} in {scarf:?}"
            );
        }
        assert!(phrases("硅胶充电宝").contains(&"充电宝".to_owned()));
        // Two one-character words in a row are one unit: 长款, never 羊绒长.
        let long = phrases("羊绒长款");
        assert!(long.contains(&"羊绒长款".to_owned()) && long.contains(&"长款".to_owned()));
        assert!(!long.contains(&"羊绒长".to_owned()), "{long:?}");
        // Nothing under a negation, nothing without jieba.
        assert!(!phrases("仿羊绒围巾").iter().any(|p| p.contains("羊绒")));
        let mut none = Vec::new();
        Analyzer::new(AnalysisMode::BigramsOnly).token_and_phrase_slices(
            "羊绒围巾",
            &mut Vec::new(),
            &mut none,
        );
        assert!(none.is_empty());
    }

    #[test]
    fn repeated_query_tokens_are_one_term() {
        let terms = Analyzer::new(AnalysisMode::BigramsOnly).query_terms("围巾 围巾");
        assert_eq!(terms.len(), 1);
    }

    #[test]
    fn full_width_query_equals_half_width_query() {
        let analyzer = full();
        assert_eq!(
            analyzer.tokens("ＩＰＨＯＮＥ １５ 手机壳"),
            analyzer.tokens("iphone 15 手机壳")
        );
    }

    #[test]
    fn punctuation_and_spaces_separate_and_vanish() {
        assert_eq!(
            Analyzer::new(AnalysisMode::BigramsOnly).tokens("【包邮】A-1, 2025新款!"),
            ["包邮", "a", "1", "2025", "新款"]
        );
    }
}
