//! Search: the index, ranking profiles and the Search call on the wire.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use xiaodian_core::rank::index::{Index, ProductRecord, ShopRecord};
use xiaodian_core::rank::profile::RankingProfile;
use xiaodian_core::rank::search::{
    Explanation, Filter, Hit, SearchRequest, SearchResult, Signal, Sort,
};
use xiaodian_core::text::{
    check_negating_modifiers, AnalysisMode, Analyzer, DEFAULT_NEGATING_MODIFIERS,
};

use super::platform::PageTokens;
use super::{api_err, to_py_err, InvalidArgument};
use crate::search::{search as wire_search, suggest as wire_suggest, Profiles, SearchContext};
use xiaodian_core::rank::suggest::{
    validate as suggest_validate, Completions, Suggester, SuggestionMatch, SuggestionSource,
};
use xiaodian_core::text::pinyin;

/// A ranking profile as a Python dict keyed by the `xiaodian.v1.RankingProfile` field names.
/// Destructured in both conversions so that a field added to [`RankingProfile`] and forgotten
/// here is a compile error.
#[derive(FromPyObject, IntoPyObject)]
#[pyo3(from_item_all)]
struct ProfileDict {
    name: String,
    description: String,
    bm25_k1: f64,
    bm25_b: f64,
    title_weight: f64,
    shop_name_weight: f64,
    brand_weight: f64,
    text_weight: f64,
    hero_quality_weight: f64,
    rating_weight: f64,
    shop_score_weight: f64,
    sales_weight: f64,
    rating_prior_count: f64,
    rating_prior_mean: f64,
    shop_score_prior_count: f64,
    shop_score_prior_mean: f64,
    brand_multiplier: f64,
    new_merchant_multiplier: f64,
    new_merchant_window_days: u32,
    rerank_depth: u32,
    duplicate_max_distance: u32,
    /// Groups of synonyms, each a list of words.
    synonyms: Vec<Vec<String>>,
    synonym_weight: f64,
    approximate_weight: f64,
}

impl From<ProfileDict> for RankingProfile {
    fn from(d: ProfileDict) -> Self {
        let ProfileDict {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
            synonyms,
            synonym_weight,
            approximate_weight,
        } = d;
        Self {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
            synonyms,
            synonym_weight,
            approximate_weight,
        }
    }
}

impl From<RankingProfile> for ProfileDict {
    fn from(p: RankingProfile) -> Self {
        let RankingProfile {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
            synonyms,
            synonym_weight,
            approximate_weight,
        } = p;
        Self {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
            synonyms,
            synonym_weight,
            approximate_weight,
        }
    }
}

/// Checks a list of negating modifiers; raises `xiaodian.errors.InvalidArgument` naming each
/// `negating_modifiers[i]` that breaks a rule.
#[pyfunction(name = "check_negating_modifiers")]
fn check_modifiers(modifiers: Vec<String>) -> PyResult<()> {
    check_negating_modifiers(&modifiers).map_err(to_py_err)
}

/// Every pinyin syllable (toneless, ü as v), alphabetical (`xiaodian_core::text::pinyin`).
#[pyfunction]
fn pinyin_syllables() -> Vec<&'static str> {
    pinyin::syllables().to_vec()
}

/// The readings of each character of `text`, most common first (empty for one without).
#[pyfunction]
fn pinyin_readings(text: &str) -> Vec<Vec<&'static str>> {
    text.chars()
        .map(|c| {
            pinyin::readings(c)
                .into_iter()
                .map(pinyin::syllable)
                .collect()
        })
        .collect()
}

/// The ways a run of letters is read as syllables, best first (`pinyin::cuts`).
#[pyfunction]
fn pinyin_cuts(letters: &str) -> Vec<Vec<&'static str>> {
    pinyin::cuts(letters)
        .into_iter()
        .map(|cut| cut.into_iter().map(pinyin::syllable).collect())
        .collect()
}

/// The built-in default ranking profile, as a dict.
#[pyfunction]
fn default_ranking_profile() -> ProfileDict {
    RankingProfile::default().into()
}

/// Validates a ranking profile dict; raises `xiaodian.errors.InvalidArgument` listing every
/// violated rule (field names relative to the profile).
#[pyfunction]
fn validate_ranking_profile(profile: ProfileDict) -> PyResult<()> {
    RankingProfile::from(profile).validate().map_err(to_py_err)
}

/// A shop as a dict (keys as the fields of [`ShopRecord`]).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ShopDict {
    shop_id: String,
    name: String,
    is_brand: bool,
    opened_at_s: i64,
    experience_score: f64,
    experience_review_count: u32,
}

impl From<ShopDict> for ShopRecord {
    fn from(d: ShopDict) -> Self {
        let ShopDict {
            shop_id,
            name,
            is_brand,
            opened_at_s,
            experience_score,
            experience_review_count,
        } = d;
        Self {
            shop_id,
            name,
            is_brand,
            opened_at_s,
            experience_score,
            experience_review_count,
        }
    }
}

/// A product as a dict (keys as the fields of [`ProductRecord`]; `dhash` may be None).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ProductDict {
    product_id: String,
    shop_id: String,
    title: String,
    brand: String,
    category_id: String,
    price_fen: i64,
    sales_30d: i64,
    stock: i64,
    rating_sum: i64,
    rating_count: i64,
    hero_quality: f64,
    dhash: Option<u64>,
    listed_at_s: i64,
}

impl From<ProductDict> for ProductRecord {
    fn from(d: ProductDict) -> Self {
        let ProductDict {
            product_id,
            shop_id,
            title,
            brand,
            category_id,
            price_fen,
            sales_30d,
            stock,
            rating_sum,
            rating_count,
            hero_quality,
            dhash,
            listed_at_s,
        } = d;
        Self {
            product_id,
            shop_id,
            title,
            brand,
            category_id,
            price_fen,
            sales_30d,
            stock,
            rating_sum,
            rating_count,
            hero_quality,
            dhash,
            listed_at_s,
        }
    }
}

/// A search request as a dict; `sort` is one of relevance, sales, price_ascending,
/// price_descending, rating, newest.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SearchRequestDict {
    query: String,
    category_ids: Vec<String>,
    shop_ids: Vec<String>,
    min_price_fen: Option<i64>,
    max_price_fen: Option<i64>,
    in_stock_only: bool,
    sort: String,
    page_size: u32,
    page: u32,
    max_per_shop: u32,
    keep_duplicates: bool,
    explain: bool,
    now_s: i64,
}

impl TryFrom<SearchRequestDict> for SearchRequest {
    type Error = PyErr;

    fn try_from(d: SearchRequestDict) -> PyResult<Self> {
        let sort = match d.sort.as_str() {
            "relevance" => Sort::Relevance,
            "sales" => Sort::Sales,
            "price_ascending" => Sort::PriceAscending,
            "price_descending" => Sort::PriceDescending,
            "rating" => Sort::Rating,
            "newest" => Sort::Newest,
            other => {
                return Err(InvalidArgument::new_err((
                    format!("unknown sort '{other}'"),
                    vec![("sort".to_owned(), "unknown sort".to_owned())],
                )))
            }
        };
        Ok(Self {
            query: d.query,
            filter: Filter {
                category_ids: d.category_ids,
                shop_ids: d.shop_ids,
                min_price_fen: d.min_price_fen,
                max_price_fen: d.max_price_fen,
                in_stock_only: d.in_stock_only,
            },
            sort,
            page_size: d.page_size,
            page: d.page,
            max_per_shop: d.max_per_shop,
            keep_duplicates: d.keep_duplicates,
            explain: d.explain,
            now_s: d.now_s,
        })
    }
}

#[derive(IntoPyObject)]
struct SignalDict {
    signal: &'static str,
    value: f64,
    weight: f64,
    contribution: f64,
}

#[derive(IntoPyObject)]
struct ExplanationDict {
    first_phase_score: f64,
    matched_terms: Vec<String>,
    matched_synonyms: Vec<String>,
    negated_words: Vec<String>,
    /// (query word, matched word, kind: "pinyin", "initials", "same_sound" or "typo").
    approximate_matches: Vec<(String, String, &'static str)>,
    tier: u32,
    signals: Vec<SignalDict>,
}

#[derive(IntoPyObject)]
struct HitDict {
    product_id: String,
    shop_id: String,
    title: String,
    shop_name: String,
    brand: String,
    price_fen: i64,
    sales_30d: i64,
    rating: f64,
    score: f64,
    tier: u32,
    collapsed_duplicates: u32,
    explanation: Option<ExplanationDict>,
}

#[derive(IntoPyObject)]
struct SearchResultDict {
    hits: Vec<HitDict>,
    total_matched: u64,
    first_tier_matched: u64,
    second_tier_matched: u64,
    second_tier_searched: bool,
    has_more: bool,
    collapsed_duplicates: u32,
}

impl From<SearchResult> for SearchResultDict {
    fn from(r: SearchResult) -> Self {
        let hit = |h: Hit| HitDict {
            product_id: h.product_id,
            shop_id: h.shop_id,
            title: h.title,
            shop_name: h.shop_name,
            brand: h.brand,
            price_fen: h.price_fen,
            sales_30d: h.sales_30d,
            rating: h.rating,
            score: h.score,
            tier: h.tier,
            collapsed_duplicates: h.collapsed_duplicates,
            explanation: h.explanation.map(|e: Explanation| ExplanationDict {
                first_phase_score: e.first_phase_score,
                matched_terms: e.matched_terms,
                matched_synonyms: e.matched_synonyms,
                negated_words: e.negated_words,
                approximate_matches: e
                    .approximate_matches
                    .into_iter()
                    .map(|(word, matched, kind)| (word, matched, kind.name()))
                    .collect(),
                tier: e.tier,
                signals: e
                    .signals
                    .into_iter()
                    .map(|s: Signal| SignalDict {
                        signal: s.signal,
                        value: s.value,
                        weight: s.weight,
                        contribution: s.contribution,
                    })
                    .collect(),
            }),
        };
        Self {
            hits: r.hits.into_iter().map(hit).collect(),
            total_matched: r.total_matched,
            first_tier_matched: r.first_tier_matched,
            second_tier_matched: r.second_tier_matched,
            second_tier_searched: r.second_tier_searched,
            has_more: r.has_more,
            collapsed_duplicates: r.collapsed_duplicates,
        }
    }
}

fn analysis_mode(analysis: &str) -> PyResult<AnalysisMode> {
    match analysis {
        "full" => Ok(AnalysisMode::Full),
        "bigrams" => Ok(AnalysisMode::BigramsOnly),
        other => Err(InvalidArgument::new_err((
            format!("unknown analysis '{other}': use 'full' or 'bigrams'"),
            vec![("analysis".to_owned(), "must be full or bigrams".to_owned())],
        ))),
    }
}

/// The search index. Many threads may search at once; a write waits for running searches and
/// blocks new ones while it applies its batch. The GIL is released around every call that
/// touches the index.
///
/// It also keeps every stored ranking profile compiled, by name and version (`put_profile`,
/// fed from the database at start and after each committed update), so a search reads no
/// database (`search_encoded`).
///
/// Suggest answers from a [`Suggester`] built from the index. The first Suggest builds one
/// (unless `refresh_suggestions` did). After writes, a Suggest on a small index (at most
/// [`SUGGESTER_INLINE_PRODUCTS`] products) rebuilds it first, so its answer is fresh; on a
/// larger one it starts a rebuild in a background thread once the last is older than
/// [`SUGGESTER_REBUILD_FACTOR`] times its build time (so rebuilding takes at most about a
/// tenth of a core under steady writes) and answers from the last one meanwhile: a Suggest
/// never waits for a long rebuild.
#[pyclass(frozen)]
struct SearchEngine {
    index: Arc<RwLock<Index>>,
    profiles: Profiles,
    /// Bumped by every write to the index.
    generation: Arc<AtomicU64>,
    suggestions: Arc<Suggestions>,
}

/// The last suggester built, and whether a rebuild is running.
#[derive(Default)]
struct Suggestions {
    built: Mutex<Option<BuiltSuggester>>,
    building: AtomicBool,
}

/// A suggester, the index generation it was built from, when its build started, and how
/// long it took.
struct BuiltSuggester {
    suggester: Arc<Suggester>,
    generation: u64,
    /// Live products of the index it was built from.
    products: usize,
    started: Instant,
    build_time: Duration,
}

impl BuiltSuggester {
    /// A suggester of the index as it is now.
    fn build(index: &RwLock<Index>, generation: &AtomicU64) -> Self {
        pinyin::syllables(); // the table is made once per process: not part of a build's time
        let started = Instant::now();
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        // Read under the index lock: no write runs while it is held, so it is held only while
        // the completions are gathered, not while their keys are built.
        let generation = generation.load(Ordering::Acquire);
        let products = index.product_count();
        let completions = Completions::of(&index);
        drop(index);
        let suggester = Arc::new(Suggester::from_completions(completions));
        Self {
            suggester,
            generation,
            products,
            started,
            build_time: started.elapsed(),
        }
    }
}

/// A suggester is rebuilt after writes once it is older than this many times its build time.
const SUGGESTER_REBUILD_FACTOR: u32 = 10;
/// Up to this many products (a build of a few milliseconds), a Suggest that finds the
/// suggester stale rebuilds it itself, so its answer is fresh.
const SUGGESTER_INLINE_PRODUCTS: usize = 10_000;

impl SearchEngine {
    /// The suggester to answer from: the last built (see [`SearchEngine`]), starting a
    /// rebuild in the background when it is due; the first is built at once.
    fn suggester(&self) -> Arc<Suggester> {
        let mut built = self
            .suggestions
            .built
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(last) = built.as_ref() else {
            let first = BuiltSuggester::build(&self.index, &self.generation);
            let suggester = Arc::clone(&first.suggester);
            *built = Some(first);
            return suggester;
        };
        let stale = last.generation != self.generation.load(Ordering::Acquire);
        if stale && last.products <= SUGGESTER_INLINE_PRODUCTS {
            let next = BuiltSuggester::build(&self.index, &self.generation);
            let suggester = Arc::clone(&next.suggester);
            *built = Some(next);
            return suggester;
        }
        let due = stale && last.started.elapsed() >= last.build_time * SUGGESTER_REBUILD_FACTOR;
        if due && !self.suggestions.building.swap(true, Ordering::AcqRel) {
            let (index, generation, suggestions) = (
                Arc::clone(&self.index),
                Arc::clone(&self.generation),
                Arc::clone(&self.suggestions),
            );
            std::thread::spawn(move || {
                /// Clears `building` however the build ends.
                struct Done<'a>(&'a AtomicBool);
                impl Drop for Done<'_> {
                    fn drop(&mut self) {
                        self.0.store(false, Ordering::Release);
                    }
                }
                let _done = Done(&suggestions.building);
                let next = BuiltSuggester::build(&index, &generation);
                let mut built = suggestions.built.lock().unwrap_or_else(|e| e.into_inner());
                // A refresh may have built a newer one meanwhile.
                if built
                    .as_ref()
                    .is_none_or(|b| b.generation <= next.generation)
                {
                    *built = Some(next);
                }
            });
        }
        Arc::clone(&last.suggester)
    }

    /// The index for a write; the write counts as a change for Suggest.
    fn write_changing(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        let guard = self.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        guard
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A panic inside a write would poison the lock; the index is still consistent for
        // reading because every write validates before it mutates.
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl SearchEngine {
    /// `analysis` is "full" (bigrams and jieba words, the default) or "bigrams";
    /// `negating_modifiers` (full analysis) defaults to 仿, 类, 非, 假, 人造.
    /// `approximate` false turns approximate matching and title phrases off (indexing as
    /// before them: the benchmarks' comparison).
    #[new]
    #[pyo3(signature = (analysis = "full", negating_modifiers = None, approximate = true))]
    fn new(
        py: Python<'_>,
        analysis: &str,
        negating_modifiers: Option<Vec<String>>,
        approximate: bool,
    ) -> PyResult<Self> {
        let mode = analysis_mode(analysis)?;
        let modifiers = negating_modifiers.unwrap_or_else(|| {
            DEFAULT_NEGATING_MODIFIERS
                .iter()
                .map(|&m| m.to_owned())
                .collect()
        });
        check_negating_modifiers(&modifiers).map_err(to_py_err)?;
        let analyzer = py.detach(|| Analyzer::with_negating_modifiers(mode, &modifiers));
        Ok(Self {
            index: Arc::new(RwLock::new(if approximate {
                Index::new(analyzer)
            } else {
                Index::without_approximate(analyzer)
            })),
            profiles: Profiles::default(),
            generation: Arc::new(AtomicU64::new(0)),
            suggestions: Arc::default(),
        })
    }

    /// Keeps version `version` of profile `name` (a validated profile dict), compiled; the
    /// highest version kept of a name is its latest.
    fn put_profile(&self, name: String, version: u32, profile: ProfileDict) {
        self.profiles
            .put(name, version, RankingProfile::from(profile));
    }

    /// `SearchService.Search`: the encoded `SearchRequest` in, the encoded `SearchResponse`
    /// out (`crate::search`), without the GIL. `now_s` is the clock of a first page.
    fn search_encoded<'py>(
        &self,
        py: Python<'py>,
        request: &[u8],
        tokens: &PageTokens,
        max_result_window: u32,
        now_s: i64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let ctx = SearchContext {
            profiles: &self.profiles,
            tokens: &tokens.0,
            max_result_window,
            now_s,
        };
        let encoded = py
            .detach(|| wire_search(&self.read(), request, &ctx))
            .map_err(api_err)?;
        Ok(PyBytes::new(py, &encoded))
    }

    /// `SearchService.Suggest`: the encoded `SuggestRequest` in, the encoded
    /// `SuggestResponse` out (`crate::search::suggest`), without the GIL.
    fn suggest_encoded<'py>(
        &self,
        py: Python<'py>,
        request: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let encoded = py
            .detach(|| wire_suggest(&self.suggester(), request))
            .map_err(api_err)?;
        Ok(PyBytes::new(py, &encoded))
    }

    /// Builds Suggest's completions from the index as it is now, unless they are up to date;
    /// returns whether it built.
    fn refresh_suggestions(&self, py: Python<'_>) -> bool {
        py.detach(|| {
            let mut built = self
                .suggestions
                .built
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let current = self.generation.load(Ordering::Acquire);
            if built.as_ref().is_some_and(|b| b.generation == current) {
                return false;
            }
            *built = Some(BuiltSuggester::build(&self.index, &self.generation));
            true
        })
    }

    /// Up to `limit` (1-20) completions of `prefix`, best first: dicts of text,
    /// matched_chars, source ("title", "shop_name", "brand"), match ("text", "pinyin",
    /// "initials") and popularity.
    fn suggest<'py>(
        &self,
        py: Python<'py>,
        prefix: &str,
        limit: u32,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        suggest_validate(prefix, limit).map_err(to_py_err)?;
        let found = py.detach(|| self.suggester().suggest(prefix, limit as usize));
        found
            .into_iter()
            .map(|s| {
                let d = PyDict::new(py);
                d.set_item("text", s.text)?;
                d.set_item("matched_chars", s.matched_chars)?;
                d.set_item(
                    "source",
                    match s.source {
                        SuggestionSource::Title => "title",
                        SuggestionSource::ShopName => "shop_name",
                        SuggestionSource::Brand => "brand",
                    },
                )?;
                d.set_item(
                    "match",
                    match s.matched {
                        SuggestionMatch::Text => "text",
                        SuggestionMatch::Pinyin => "pinyin",
                        SuggestionMatch::Initials => "initials",
                    },
                )?;
                d.set_item("popularity", s.popularity)?;
                Ok(d)
            })
            .collect()
    }

    /// Creates or replaces shops (dicts with the fields of `ShopRecord`).
    fn upsert_shops(&self, py: Python<'_>, shops: Vec<ShopDict>) {
        let shops: Vec<ShopRecord> = shops.into_iter().map(Into::into).collect();
        py.detach(|| self.write_changing().upsert_shops(shops));
    }

    /// Creates or replaces products; raises FailedPrecondition (writing nothing) when one
    /// names an unknown shop.
    fn upsert_products(&self, py: Python<'_>, products: Vec<ProductDict>) -> PyResult<()> {
        let products: Vec<ProductRecord> = products.into_iter().map(Into::into).collect();
        py.detach(|| self.write_changing().upsert_products(products))
            .map_err(to_py_err)
    }

    /// Removes products; returns how many were present.
    fn delete_products(&self, py: Python<'_>, product_ids: Vec<String>) -> usize {
        py.detach(|| self.write_changing().delete_products(&product_ids))
    }

    /// Runs a search with a (validated) profile dict and a request dict.
    fn search(
        &self,
        py: Python<'_>,
        profile: ProfileDict,
        request: SearchRequestDict,
    ) -> PyResult<SearchResultDict> {
        let profile = RankingProfile::from(profile);
        let request = SearchRequest::try_from(request)?;
        py.detach(|| self.read().search(&profile, &request))
            .map(Into::into)
            .map_err(to_py_err)
    }

    /// Number of live products.
    fn product_count(&self) -> usize {
        self.read().product_count()
    }

    /// Number of shops.
    fn shop_count(&self) -> usize {
        self.read().shop_count()
    }

    /// The tokens the index makes of `text`.
    fn tokens(&self, py: Python<'_>, text: &str) -> Vec<String> {
        py.detach(|| self.read().analyzer().tokens(text))
    }

    /// The negating modifiers of the analysis, normalised, longest first.
    fn negating_modifiers(&self) -> Vec<String> {
        self.read().analyzer().negating_modifiers().to_vec()
    }

    /// The query terms of `text`, each with its `required` flag.
    fn query_terms(&self, py: Python<'_>, text: &str) -> Vec<(String, bool)> {
        py.detach(|| {
            self.read()
                .analyzer()
                .query_terms(text)
                .into_iter()
                .map(|t| (t.text, t.required))
                .collect()
        })
    }

    /// The query words of `text` with `synonyms` (groups of words): each word a list of its
    /// alternatives, each alternative the list of its terms.
    #[pyo3(signature = (text, synonyms = Vec::new()))]
    fn query_words(
        &self,
        py: Python<'_>,
        text: &str,
        synonyms: Vec<Vec<String>>,
    ) -> Vec<Vec<Vec<String>>> {
        py.detach(|| {
            let query = self.read().analyzer().analyze_query(text, &synonyms);
            let texts =
                |ids: &Vec<usize>| ids.iter().map(|&i| query.terms[i].text.clone()).collect();
            query
                .words
                .iter()
                .map(|word| word.alternatives.iter().map(texts).collect())
                .collect()
        })
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SearchEngine>()?;
    m.add_function(wrap_pyfunction!(pinyin_syllables, m)?)?;
    m.add_function(wrap_pyfunction!(pinyin_readings, m)?)?;
    m.add_function(wrap_pyfunction!(pinyin_cuts, m)?)?;
    m.add_function(wrap_pyfunction!(default_ranking_profile, m)?)?;
    m.add_function(wrap_pyfunction!(check_modifiers, m)?)?;
    m.add_function(wrap_pyfunction!(validate_ranking_profile, m)?)
}
