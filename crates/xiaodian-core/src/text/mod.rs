//! Text analysis shared by indexing and queries: normalisation, then tokens per script run.
//!
//! Normalisation is NFKC (which also folds full-width letters and digits to half-width) and
//! lowercase. The normalised text is cut into runs of one script: Han, letters, digits;
//! anything else separates runs. A letter run and a digit run are one token each, so
//! "iPhone15手机壳" gives `iphone`, `15` and the Han tokens. A Han run of one character is that
//! character; a longer run gives every character bigram (so infix queries match: `处理` finds
//! `待处理`) and, in [`AnalysisMode::Full`], the dictionary words jieba finds that are not
//! bigrams themselves (single characters, and words of three or more characters).

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
}

/// A query's terms and words ([`Analyzer::analyze_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzedQuery {
    pub terms: Vec<QueryTerm>,
    pub words: Vec<QueryWord>,
}

impl AnalyzedQuery {
    /// True when a word can be matched more than one way (a synonym).
    pub fn has_synonyms(&self) -> bool {
        self.words.iter().any(|w| w.alternatives.len() > 1)
    }
}

/// One query word: a product has it when it contains every term of one alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// The indices in the query's terms of each alternative's terms, ascending; the first
    /// alternative is the word as typed, the others its synonyms.
    pub alternatives: Vec<Vec<usize>>,
    /// The synonym of each alternative after the first (normalised).
    pub synonyms: Vec<String>,
}

/// The character bigrams of a run of two or more characters, in order.
fn bigrams(chars: &[char]) -> Vec<String> {
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// The maximal runs of one script in normalised text, in order, as slices of it; other
/// characters separate runs.
fn runs(normalized: &str) -> Vec<(&str, Script)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut run_script = None;
    for (i, c) in normalized.char_indices() {
        let s = script(c);
        if s != run_script {
            if let Some(previous) = run_script {
                out.push((&normalized[start..i], previous));
            }
            run_script = s;
            start = i;
        }
    }
    if let Some(previous) = run_script {
        out.push((&normalized[start..], previous));
    }
    out
}

/// Turns text into tokens. Construction loads jieba's dictionary (in `Full` mode), so build
/// one analyzer and share it; analysis itself takes `&self` and is thread-safe.
pub struct Analyzer {
    jieba: Option<Jieba>,
}

impl Analyzer {
    pub fn new(mode: AnalysisMode) -> Self {
        let jieba = match mode {
            AnalysisMode::Full => Some(Jieba::new()),
            AnalysisMode::BigramsOnly => None,
        };
        Self { jieba }
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
        for (run, script) in runs(normalized) {
            self.push_run(run, script, tokens);
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
    /// synonym found in a Han run (longest first, left to right; it overrides jieba's cut),
    /// a jieba word of two or more characters, a maximal sequence of two or more
    /// one-character jieba words ("包邮"), and a one-character jieba word alone (小 in 小容量).
    /// A word of two or more characters is matched by its bigrams, a one-character word by
    /// its character. A synonym's word has one alternative more for each other word of its
    /// group (that word's bigrams). Words with the same alternatives are counted once, in
    /// order of first appearance; every required term is in a word's first alternative.
    pub fn analyze_query(&self, text: &str, synonyms: &[Vec<String>]) -> AnalyzedQuery {
        let tokens = self.tokens(text);
        let groups: Vec<Vec<String>> = synonyms
            .iter()
            .map(|group| group.iter().map(|word| normalize(word)).collect())
            .collect();
        let mut required: Vec<String> = Vec::new();
        // Each word: its alternatives' term texts and, after the first, the synonym's text.
        let mut word_texts: Vec<(Vec<Vec<String>>, Vec<String>)> = Vec::new();
        let normalized = normalize(text);
        for (run, script) in runs(&normalized) {
            let chars: Vec<char> = run.chars().collect();
            if script != Script::Han || chars.len() == 1 {
                required.push(run.to_owned());
                word_texts.push((vec![vec![run.to_owned()]], Vec::new()));
                continue;
            }
            // unit[i]: (start, length) of the unit holding character i: a synonym found here,
            // else its jieba word (every character its own word without jieba) unless that
            // word overlaps a synonym, then the character alone.
            let mut unit: Vec<(usize, usize)> = (0..chars.len()).map(|i| (i, 1)).collect();
            let mut found: Vec<Option<(usize, usize)>> = vec![None; chars.len()];
            let mut i = 0;
            while i < chars.len() {
                let longest = groups
                    .iter()
                    .enumerate()
                    .flat_map(|(g, group)| group.iter().map(move |word| (g, word)))
                    .filter(|(_, word)| {
                        let n = word.chars().count();
                        i + n <= chars.len() && word.chars().eq(chars[i..i + n].iter().copied())
                    })
                    .map(|(g, word)| (word.chars().count(), g))
                    .max_by_key(|&(n, g)| (n, std::cmp::Reverse(g)));
                match longest {
                    Some((n, g)) => {
                        for j in i..i + n {
                            unit[j] = (i, n);
                            found[j] = Some((g, i));
                        }
                        i += n;
                    }
                    None => i += 1,
                }
            }
            if let Some(jieba) = &self.jieba {
                let mut i = 0;
                for word in jieba.cut(run, false) {
                    let n = word.word.chars().count();
                    if n > 1 && found[i..i + n].iter().all(Option::is_none) {
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
                let own: Vec<String> = if n == 1 {
                    vec![span[0].to_string()]
                } else {
                    bigrams(span)
                };
                required.extend(own.iter().cloned());
                let mut alternatives = vec![own];
                let mut texts = Vec::new();
                if let Some((g, _)) = found[i].filter(|_| unit[i].1 > 1) {
                    let spoken: String = span.iter().collect();
                    for word in groups[g].iter().filter(|&word| *word != spoken) {
                        let word_chars: Vec<char> = word.chars().collect();
                        alternatives.push(bigrams(&word_chars));
                        texts.push(word.clone());
                    }
                }
                word_texts.push((alternatives, texts));
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
                });
            }
        }
        // A required term the tokens lack (a synonym's bigram where jieba cut otherwise is
        // still a bigram of the run, so none is missing) is added all the same.
        for (alternatives, _) in &word_texts {
            for (k, texts) in alternatives.iter().enumerate() {
                for text in texts {
                    if !terms.iter().any(|t| &t.text == text) {
                        terms.push(QueryTerm {
                            text: text.clone(),
                            required: k == 0,
                            synonym: k > 0,
                        });
                    }
                }
            }
        }
        let mut words: Vec<QueryWord> = Vec::new();
        for (alternatives, texts) in word_texts {
            let alternatives: Vec<Vec<usize>> = alternatives
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
                synonyms: texts,
            };
            if !words.contains(&word) {
                words.push(word);
            }
        }
        AnalyzedQuery { terms, words }
    }

    fn push_run<'a>(&self, run: &'a str, script: Script, tokens: &mut Vec<&'a str>) {
        match script {
            Script::Letter | Script::Digit => tokens.push(run),
            Script::Han => {
                let starts: Vec<usize> = run.char_indices().map(|(i, _)| i).collect();
                if starts.len() == 1 {
                    tokens.push(run);
                    return;
                }
                for pair in 0..starts.len() - 1 {
                    let end = starts.get(pair + 2).copied().unwrap_or(run.len());
                    tokens.push(&run[starts[pair]..end]);
                }
                if let Some(jieba) = &self.jieba {
                    for token in jieba.cut(run, false) {
                        if token.end - token.start != 2 {
                            tokens.push(token.word);
                        }
                    }
                }
            }
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
            [vec!["羊绒", "绒围", "围巾"], vec!["女"]]
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
        assert!(query.has_synonyms() && !full().analyze_query("硅胶手机套", &[]).has_synonyms());
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
