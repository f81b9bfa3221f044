//! The only file that imports pyo3: conversions between Python values and the pure Rust
//! engine types, the mapping of [`CoreError`] to the Python hierarchy in `xiaodian.errors`,
//! and GIL release around long-running work.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::creator::{self, CohortValues, Weights};
use crate::error::{CoreError, FieldViolation};
use crate::hero::{self, HeroReport};
use crate::rank::index::{HashMap as FastMap, Index, ProductRecord, ShopRecord};
use crate::rank::profile::RankingProfile;
use crate::rank::search::{Explanation, Filter, Hit, SearchRequest, SearchResult, Signal, Sort};
use crate::settle::wire::{no_refunds_json, MoneyBounds, WireOrder, ORDER_STATE_PAID};
use crate::settle::{
    self, ChainLink, Commissions, Discount, Funder, LineSplit, OrderInput, OrderLine, PackedSplits,
    Reversal, TOTALS_WORDS,
};
use crate::text::{AnalysisMode, Analyzer};

// One exception hierarchy for the whole project, defined in Python (`xiaodian.errors`):
// the engine raises the very classes that the server maps to gRPC status codes and that
// the client raises to its callers. `InvalidArgument` subclasses `ValueError`.
pyo3::import_exception!(xiaodian.errors, InvalidArgument);
pyo3::import_exception!(xiaodian.errors, FailedPrecondition);

/// `CoreError` → an instance of the matching `xiaodian.errors` class.
fn to_py_err(error: CoreError) -> PyErr {
    let message = error.to_string();
    match error {
        CoreError::InvalidArgument(violations) => {
            let pairs: Vec<(String, String)> = violations
                .into_iter()
                .map(|FieldViolation { field, description }| (field, description))
                .collect();
            InvalidArgument::new_err((message, pairs))
        }
        CoreError::Overflow(_) => {
            InvalidArgument::new_err((message, Vec::<(String, String)>::new()))
        }
        CoreError::FailedPrecondition(_) => FailedPrecondition::new_err((message,)),
    }
}

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
        }
    }
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
    any_term_match: bool,
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
    collapsed_duplicates: u32,
    explanation: Option<ExplanationDict>,
}

#[derive(IntoPyObject)]
struct SearchResultDict {
    hits: Vec<HitDict>,
    total_matched: u64,
    any_term_match: bool,
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
            collapsed_duplicates: h.collapsed_duplicates,
            explanation: h.explanation.map(|e: Explanation| ExplanationDict {
                first_phase_score: e.first_phase_score,
                matched_terms: e.matched_terms,
                any_term_match: e.any_term_match,
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
            any_term_match: r.any_term_match,
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
/// fed from the database at start and after each committed update), so a search names its
/// profile and reads no database (`search_with`).
#[pyclass(frozen)]
struct SearchEngine {
    index: RwLock<Index>,
    profiles: RwLock<HashMap<String, BTreeMap<u32, Arc<RankingProfile>>>>,
}

impl SearchEngine {
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
    /// `analysis` is "full" (bigrams and jieba words, the default) or "bigrams".
    #[new]
    #[pyo3(signature = (analysis = "full"))]
    fn new(py: Python<'_>, analysis: &str) -> PyResult<Self> {
        let mode = analysis_mode(analysis)?;
        let analyzer = py.detach(|| Analyzer::new(mode));
        Ok(Self {
            index: RwLock::new(Index::new(analyzer)),
            profiles: RwLock::default(),
        })
    }

    /// Keeps version `version` of profile `name` (a validated profile dict), compiled; the
    /// highest version kept of a name is its latest.
    fn put_profile(&self, name: String, version: u32, profile: ProfileDict) {
        let compiled = Arc::new(RankingProfile::from(profile));
        let mut profiles = self.profiles.write().unwrap_or_else(|e| e.into_inner());
        profiles.entry(name).or_default().insert(version, compiled);
    }

    /// Runs a search with the kept profile `name` at `version` (0: its latest); returns the
    /// version used and the result dict, or None when no such profile is kept.
    fn search_with(
        &self,
        py: Python<'_>,
        name: &str,
        version: u32,
        request: SearchRequestDict,
    ) -> PyResult<Option<(u32, SearchResultDict)>> {
        let request = SearchRequest::try_from(request)?;
        let found = {
            let profiles = self.profiles.read().unwrap_or_else(|e| e.into_inner());
            profiles.get(name).and_then(|versions| {
                let entry = if version == 0 {
                    versions.last_key_value()
                } else {
                    versions.get_key_value(&version)
                };
                entry.map(|(v, profile)| (*v, Arc::clone(profile)))
            })
        };
        let Some((used, profile)) = found else {
            return Ok(None);
        };
        py.detach(|| self.read().search(&profile, &request))
            .map(|result| Some((used, result.into())))
            .map_err(to_py_err)
    }

    /// Creates or replaces shops (dicts with the fields of `ShopRecord`).
    fn upsert_shops(&self, py: Python<'_>, shops: Vec<ShopDict>) {
        let shops: Vec<ShopRecord> = shops.into_iter().map(Into::into).collect();
        py.detach(|| self.write().upsert_shops(shops));
    }

    /// Creates or replaces products; raises FailedPrecondition (writing nothing) when one
    /// names an unknown shop.
    fn upsert_products(&self, py: Python<'_>, products: Vec<ProductDict>) -> PyResult<()> {
        let products: Vec<ProductRecord> = products.into_iter().map(Into::into).collect();
        py.detach(|| self.write().upsert_products(products))
            .map_err(to_py_err)
    }

    /// Removes products; returns how many were present.
    fn delete_products(&self, py: Python<'_>, product_ids: Vec<String>) -> usize {
        py.detach(|| self.write().delete_products(&product_ids))
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
}

/// A hero-image report as a dict (keys as `xiaodian.v1.HeroImageReport`; `format` is the
/// enum's number).
#[derive(IntoPyObject)]
struct HeroReportDict {
    width: u32,
    height: u32,
    format: u32,
    squareness: f64,
    sharpness: f64,
    exposure: f64,
    border_whiteness: f64,
    dhash: u64,
    quality: f64,
}

impl From<HeroReport> for HeroReportDict {
    fn from(r: HeroReport) -> Self {
        Self {
            width: r.width,
            height: r.height,
            format: r.format as u32,
            squareness: r.squareness,
            sharpness: r.sharpness,
            exposure: r.exposure,
            border_whiteness: r.border_whiteness,
            dhash: r.dhash,
            quality: r.quality,
        }
    }
}

/// Decodes (with every limit checked first) and analyses a hero image; raises
/// `InvalidArgument` with a violation on `image_bytes` whose description starts with the
/// reason: format, size, dimensions, animation, corrupt, or memory (the analysis would hold
/// more than `max_decoded_bytes` at once, worked out from the header before decoding).
#[pyfunction]
fn analyze_hero_image(
    py: Python<'_>,
    image_bytes: &[u8],
    max_decoded_bytes: u64,
) -> PyResult<HeroReportDict> {
    py.detach(|| hero::analyze(image_bytes, max_decoded_bytes))
        .map(Into::into)
        .map_err(to_py_err)
}

/// Hamming distance between two dHashes.
#[pyfunction]
fn dhash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// One order of `split_orders`: (shop position in `allowances`, lines as (unit_price_fen,
/// quantity, category_fee_ppm), discounts as (funder 1-4 as in `DiscountFunder`, amount_fen,
/// line positions; empty = every line), terms as (creator_ppm, service_ppm, each chain
/// party's pass_down_ppm)).
type OrderTuple = (
    usize,
    Vec<(i64, i64, u32)>,
    Vec<(u8, i64, Vec<usize>)>,
    (u32, u32, Vec<u32>),
);

/// One line's split: (gross, discount shares in discount order, paid, subsidy (creator,
/// platform, government), new_merchant_base, fee, creator_commission, chain_kept, merchant).
type LineTuple = (i64, Vec<i64>, i64, [i64; 3], i64, i64, i64, Vec<i64>, i64);

fn terms_of((creator_ppm, service_ppm, pass_downs): (u32, u32, Vec<u32>)) -> Commissions {
    Commissions {
        creator_ppm,
        service_ppm,
        chain: pass_downs
            .into_iter()
            .map(|pass_down_ppm| ChainLink { pass_down_ppm })
            .collect(),
    }
}

fn order_input(
    i: usize,
    (shop, lines, discounts, terms): OrderTuple,
) -> Result<OrderInput, CoreError> {
    let discounts = discounts
        .into_iter()
        .enumerate()
        .map(|(d, (funder, amount_fen, lines))| {
            let funder = match funder {
                1 => Funder::Merchant,
                2 => Funder::Creator,
                3 => Funder::Platform,
                4 => Funder::Government,
                _ => {
                    return Err(CoreError::InvalidArgument(vec![FieldViolation::new(
                        format!("orders[{i}].discounts[{d}].funder"),
                        "must be MERCHANT, CREATOR, PLATFORM or GOVERNMENT",
                    )]))
                }
            };
            Ok(Discount {
                funder,
                amount_fen,
                lines,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(OrderInput {
        shop,
        lines: lines
            .into_iter()
            .map(|(unit_price_fen, quantity, category_fee_ppm)| OrderLine {
                unit_price_fen,
                quantity,
                category_fee_ppm,
            })
            .collect(),
        discounts,
        terms: terms_of(terms),
    })
}

/// Splits a batch of orders (GIL released): returns each order's line splits and the shops'
/// allowances after the batch. All or nothing: a refused order raises `InvalidArgument`
/// naming `orders[i]…`, and nothing is consumed.
#[pyfunction]
fn split_orders(
    py: Python<'_>,
    orders: Vec<OrderTuple>,
    mut allowances: Vec<i64>,
    new_merchant_ppm: u32,
) -> PyResult<(Vec<Vec<LineTuple>>, Vec<i64>)> {
    let packed = py
        .detach(|| settle::split_orders(&order_inputs(orders)?, &mut allowances, new_merchant_ppm))
        .map_err(to_py_err)?;
    let tuples = (0..packed.len())
        .map(|k| {
            packed
                .lines(k)
                .into_iter()
                .map(|l: LineSplit| {
                    (
                        l.gross,
                        l.discounts,
                        l.paid,
                        l.subsidy,
                        l.new_merchant_base,
                        l.fee,
                        l.creator_commission,
                        l.chain_kept,
                        l.merchant,
                    )
                })
                .collect()
        })
        .collect();
    Ok((tuples, allowances))
}

/// An order's totals: (paid, subsidy (creator, platform, government), fee,
/// creator_commission, merchant, chain_kept per party).
type TotalsTuple = (i64, [i64; 3], i64, i64, i64, Vec<i64>);

/// One order's packed split (bytes) and its totals.
type PackedOrder = (Py<PyAny>, TotalsTuple);

fn order_inputs(orders: Vec<OrderTuple>) -> Result<Vec<OrderInput>, CoreError> {
    orders
        .into_iter()
        .enumerate()
        .map(|(i, order)| order_input(i, order))
        .collect()
}

/// Order k's packed split as Python bytes (little-endian i64 words, written straight into
/// the bytes object).
fn packed_bytes<'py>(
    py: Python<'py>,
    packed: &PackedSplits,
    k: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let words = packed.split(k);
    PyBytes::new_with(py, words.len() * 8, |buf| {
        for (chunk, word) in buf.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Ok(())
    })
}

/// Order k's packed split as Python bytes and its totals tuple.
fn packed_order(py: Python<'_>, packed: &PackedSplits, k: usize) -> PyResult<PackedOrder> {
    let bytes = packed_bytes(py, packed, k)?;
    let t = packed.totals(k);
    let totals = (
        t[0],
        [t[1], t[2], t[3]],
        t[4],
        t[5],
        t[6],
        t[TOTALS_WORDS..].to_vec(),
    );
    Ok((bytes.into_any().unbind(), totals))
}

/// `split_orders` for the service: each order's split packed into bytes
/// (`settle::PackedSplits::split`) with its totals, so that recording builds no per-line
/// Python objects.
#[pyfunction]
fn split_orders_packed(
    py: Python<'_>,
    orders: Vec<OrderTuple>,
    mut allowances: Vec<i64>,
    new_merchant_ppm: u32,
) -> PyResult<(Vec<PackedOrder>, Vec<i64>)> {
    let packed = py
        .detach(|| settle::split_orders(&order_inputs(orders)?, &mut allowances, new_merchant_ppm))
        .map_err(to_py_err)?;
    let out = (0..packed.len())
        .map(|k| packed_order(py, &packed, k))
        .collect::<PyResult<_>>()?;
    Ok((out, allowances))
}

/// Whether every encoded `xiaodian.v1.Order` breaks none of the rules of
/// `xiaodian.settlement.orders.validate_order` (`settle::wire`), its lines' and its own gross
/// within `max_line_fen` and `max_order_fen`. False also for an encoding the reader does not
/// take: the caller then validates in Python, which names what is wrong.
#[pyfunction]
fn orders_valid(
    py: Python<'_>,
    encoded: Vec<PyBackedBytes>,
    max_line_fen: i64,
    max_order_fen: i64,
) -> bool {
    let bounds = MoneyBounds {
        max_line_fen,
        max_order_fen,
    };
    py.detach(|| {
        encoded
            .iter()
            .all(|bytes| WireOrder::decode(bytes).is_some_and(|o| o.is_valid(bounds)))
    })
}

/// The encodings of the messages of the repeated message field `number` of an encoded message
/// (`settle::wire::repeated_field`): of a request serialized deterministically, each is what
/// `SerializeToString(deterministic=True)` of that message writes, read without serializing
/// it again. None when the encoding cannot be read.
#[pyfunction]
fn repeated_field(py: Python<'_>, encoded: &[u8], number: u64) -> Option<Vec<Py<PyBytes>>> {
    let fields = settle::wire::repeated_field(encoded, number)?;
    Some(
        fields
            .into_iter()
            .map(|b| PyBytes::new(py, b).unbind())
            .collect(),
    )
}

/// `orders_valid` that also reads each order's `order_id` and `shop_id`: both lists when every
/// encoded order breaks none of the rules, None otherwise (the caller validates in Python).
/// Recording takes the ids from here rather than from the orders' Python messages, each read
/// of which builds new objects.
#[pyfunction]
fn valid_order_keys<'py>(
    py: Python<'py>,
    encoded: Vec<PyBackedBytes>,
    max_line_fen: i64,
    max_order_fen: i64,
) -> Option<OrderKeys<'py>> {
    let bounds = MoneyBounds {
        max_line_fen,
        max_order_fen,
    };
    let keys = py.detach(|| {
        encoded
            .iter()
            .map(|bytes| {
                let order = WireOrder::decode(bytes).filter(|o| o.is_valid(bounds))?;
                Some((order.order_id, order.shop_id))
            })
            .collect::<Option<Vec<_>>>()
    })?;
    let text = |id: &[u8]| std::str::from_utf8(id).ok().map(|id| PyString::new(py, id));
    let mut ids = (
        Vec::with_capacity(keys.len()),
        Vec::with_capacity(keys.len()),
    );
    for (order_id, shop_id) in keys {
        ids.0.push(text(order_id)?);
        ids.1.push(text(shop_id)?);
    }
    Some(ids)
}

/// The order ids and shop ids of `valid_order_keys`.
type OrderKeys<'py> = (Vec<Bound<'py, PyString>>, Vec<Bound<'py, PyString>>);

/// `split_orders_packed` of encoded orders that `orders_valid` passed: each read and turned
/// into the split's input in Rust (`settle::wire`), order i of shop position `shops[i]`, each
/// line's fee rate from `rate_ppm_by_category` else `default_rate_ppm`.
#[pyfunction]
fn split_encoded_orders(
    py: Python<'_>,
    encoded: Vec<PyBackedBytes>,
    shops: Vec<usize>,
    allowances: Vec<i64>,
    new_merchant_ppm: u32,
    default_rate_ppm: u32,
    rate_ppm_by_category: HashMap<String, u32>,
) -> PyResult<(Vec<PackedOrder>, Vec<i64>)> {
    let (packed, left) = split_encoded(
        py,
        &encoded,
        &shops,
        allowances,
        new_merchant_ppm,
        default_rate_ppm,
        rate_ppm_by_category,
    )?;
    let out = (0..packed.len())
        .map(|k| packed_order(py, &packed, k))
        .collect::<PyResult<_>>()?;
    Ok((out, left))
}

/// `split_encoded_orders` without the totals: the packed splits alone, which is all that
/// recording keeps (it reads the totals off the splits where it needs them), and the
/// allowances left.
#[pyfunction]
fn split_encoded_blobs<'py>(
    py: Python<'py>,
    encoded: Vec<PyBackedBytes>,
    shops: Vec<usize>,
    allowances: Vec<i64>,
    new_merchant_ppm: u32,
    default_rate_ppm: u32,
    rate_ppm_by_category: HashMap<String, u32>,
) -> PyResult<(Vec<Bound<'py, PyBytes>>, Vec<i64>)> {
    let (packed, left) = split_encoded(
        py,
        &encoded,
        &shops,
        allowances,
        new_merchant_ppm,
        default_rate_ppm,
        rate_ppm_by_category,
    )?;
    let out = (0..packed.len())
        .map(|k| packed_bytes(py, &packed, k))
        .collect::<PyResult<_>>()?;
    Ok((out, left))
}

/// The split of `split_encoded_orders` (GIL released) and the allowances left.
fn split_encoded(
    py: Python<'_>,
    encoded: &[PyBackedBytes],
    shops: &[usize],
    mut allowances: Vec<i64>,
    new_merchant_ppm: u32,
    default_rate_ppm: u32,
    rate_ppm_by_category: HashMap<String, u32>,
) -> PyResult<(PackedSplits, Vec<i64>)> {
    if shops.len() != encoded.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "one shop position per order",
        ));
    }
    let packed = py.detach(|| {
        let rates: HashMap<Vec<u8>, u32> = rate_ppm_by_category
            .into_iter()
            .map(|(category, rate)| (category.into_bytes(), rate))
            .collect();
        let mut inputs = Vec::with_capacity(encoded.len());
        for (i, (bytes, &shop)) in encoded.iter().zip(shops).enumerate() {
            // The money bounds were checked by `valid_order_keys`; the split's arithmetic
            // is checked whatever they are.
            let Some(order) =
                WireOrder::decode(bytes).filter(|o| o.is_valid(MoneyBounds::FIELDS_ONLY))
            else {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "order {i} is not one that orders_valid passes"
                )));
            };
            inputs.push(order.order_input(shop, &rates, default_rate_ppm));
        }
        settle::split_orders(&inputs, &mut allowances, new_merchant_ppm).map_err(to_py_err)
    })?;
    Ok((packed, allowances))
}

/// The encoded `RecordOrdersResponse` of recorded orders (encoded) and their packed splits
/// (`split_orders_packed`'s bytes), built in Rust (`settle::wire`); None when an order cannot
/// be read there (the caller builds the response in Python then).
#[pyfunction]
fn record_responses(
    py: Python<'_>,
    encoded: Vec<PyBackedBytes>,
    splits: Vec<PyBackedBytes>,
) -> PyResult<Option<Py<pyo3::types::PyBytes>>> {
    if splits.len() != encoded.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "one split per order",
        ));
    }
    let bytes = py.detach(|| {
        let words = split_words(&splits);
        settle::wire::record_responses(
            encoded
                .iter()
                .map(|b| &b[..])
                .zip(words.iter().map(|w| &w[..])),
        )
    });
    Ok(bytes.map(|b| pyo3::types::PyBytes::new(py, &b).unbind()))
}

/// Packed splits (`split_orders_packed`'s bytes) as i64 words.
fn split_words(splits: &[PyBackedBytes]) -> Vec<Vec<i64>> {
    splits
        .iter()
        .map(|blob| {
            blob.chunks_exact(8)
                .map(|w| i64::from_le_bytes(w.try_into().expect("8 bytes")))
                .collect()
        })
        .collect()
}

/// A `settlement_orders` row as recording writes it: (order_id, shop_id, content_sha256,
/// paid_at_us, state, guide_id ("" for none), paid_fen, order_pb, split_blob,
/// line_refunds_json, payouts_json). The byte strings are bytearrays: Python's sqlite3 binds
/// a bytearray as it is, where bytes (and None) first go through its adapter lookup, which
/// took a third of the insert's time.
type OrderRow = (
    Py<PyString>,
    Py<PyString>,
    Py<PyByteArray>,
    i64,
    i64,
    Py<PyString>,
    i64,
    Py<PyByteArray>,
    Py<PyByteArray>,
    Py<PyString>,
    Py<PyString>,
);

/// A `ledger_transfers` row of `recording_rows`: (transfer_id, debit, credit, amount_fen,
/// code, order_id, refund_id, booked_at_us).
type TransferRow = (
    Py<PyString>,
    Py<PyString>,
    Py<PyString>,
    i64,
    i64,
    Py<PyString>,
    Py<PyString>,
    i64,
);

/// The order rows, transfer rows and pending payouts by account of `recording_rows`.
type RecordingRows = (Vec<OrderRow>, Vec<TransferRow>, Vec<(String, i64)>);

/// What recording orders (encoded, with their packed splits and content digests) writes
/// (`settle::wire::WireOrder::recording_rows`): the `settlement_orders` rows, the payment and
/// subsidy transfers, and what the orders add to each account's pending payouts (summed over
/// the batch, by account, zeros left out). None when Rust cannot read an order or a sum leaves
/// int64 (the caller builds them in Python then: `xiaodian.settlement.store.recording_rows`).
///
/// The rows share their Python strings where they are equal (an order's id in its row and its
/// transfers; account names, "" and `line_refunds_json` across the batch): building Python
/// objects is most of this function's cost.
#[pyfunction]
fn recording_rows(
    py: Python<'_>,
    encoded: Vec<PyBackedBytes>,
    splits: Vec<PyBackedBytes>,
    digests: Vec<PyBackedBytes>,
) -> PyResult<Option<RecordingRows>> {
    if splits.len() != encoded.len() || digests.len() != encoded.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "one split and one digest per order",
        ));
    }
    let read = py.detach(|| {
        let mut recorded = Vec::with_capacity(encoded.len());
        let mut pending: FastMap<&str, i64> = FastMap::default();
        for (bytes, words) in encoded.iter().zip(split_words(&splits)) {
            recorded.push(WireOrder::decode(bytes)?.recording_rows(&words)?);
        }
        for (account, amount) in recorded.iter().flat_map(|r| &r.payouts) {
            // A batch whose pending sum leaves int64 is left to Python, which refuses it
            // (`xiaodian.settlement.ledger.add_sums`).
            let sum = pending.entry(account).or_default();
            *sum = sum.checked_add(*amount)?;
        }
        let mut pending: Vec<(String, i64)> = pending
            .into_iter()
            .filter(|&(_, amount)| amount != 0)
            .map(|(account, amount)| (account.to_owned(), amount))
            .collect();
        pending.sort_unstable();
        Some((recorded, pending))
    });
    let Some((recorded, pending)) = read else {
        return Ok(None);
    };
    let mut shared_strings: FastMap<String, Py<PyString>> = FastMap::default();
    let mut shared = |text: &str| match shared_strings.get(text) {
        Some(string) => string.clone_ref(py),
        None => {
            let string = PyString::new(py, text).unbind();
            shared_strings.insert(text.to_owned(), string.clone_ref(py));
            string
        }
    };
    let no_refund = shared("");
    let bytes = |b: &[u8]| PyByteArray::new(py, b).unbind();
    let mut rows = Vec::with_capacity(recorded.len());
    let mut transfers = Vec::with_capacity(recorded.len() * 2);
    for (r, ((order_pb, split), digest)) in recorded
        .into_iter()
        .zip(encoded.iter().zip(&splits).zip(&digests))
    {
        let order_id = PyString::new(py, r.order_id).unbind();
        for t in r.transfers {
            transfers.push((
                PyString::new(py, &t.transfer_id).unbind(),
                shared(&t.debit),
                shared(&t.credit),
                t.amount_fen,
                t.code,
                order_id.clone_ref(py),
                no_refund.clone_ref(py),
                r.paid_at_us,
            ));
        }
        rows.push((
            order_id,
            shared(r.shop_id),
            bytes(digest),
            r.paid_at_us,
            ORDER_STATE_PAID,
            shared(r.guide_id),
            r.paid_fen,
            bytes(order_pb),
            bytes(split),
            shared(&no_refunds_json(r.line_count)),
            PyString::new(py, &r.payouts_json).unbind(),
        ));
    }
    Ok(Some((rows, transfers, pending)))
}

/// A benchmark hook: converts the orders once, then runs the split kernel alone `repeats`
/// times (GIL released) and returns each run's seconds, so that the kernel's speed can be
/// reported apart from the cost of building Python objects. Each run does what the service's
/// `split_orders_packed` asks of the kernel: every order's packed split and its totals.
#[pyfunction]
fn time_split_orders(
    py: Python<'_>,
    orders: Vec<OrderTuple>,
    allowances: Vec<i64>,
    new_merchant_ppm: u32,
    repeats: usize,
) -> PyResult<Vec<f64>> {
    py.detach(|| {
        let inputs = order_inputs(orders)?;
        let mut seconds = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let mut left = allowances.clone();
            let started = std::time::Instant::now();
            let splits = settle::split_orders(&inputs, &mut left, new_merchant_ppm)?;
            seconds.push(started.elapsed().as_secs_f64());
            drop(std::hint::black_box(splits));
        }
        Ok(seconds)
    })
    .map_err(to_py_err)
}

/// What a line's refunds reversed: (subsidy, fee, creator_commission, chain_kept, merchant).
type ReversalTuple = ([i64; 3], i64, i64, Vec<i64>, i64);

/// The cumulative reversal of a line (`settle::Reversal::of`): `split` is (paid, subsidy,
/// fee, creator_commission, chain_kept, merchant); returns (subsidy, fee, creator_commission,
/// chain_kept, merchant) reversed in total once `refunded` fen of it were refunded.
#[pyfunction]
fn reverse_line(
    split: (i64, [i64; 3], i64, i64, Vec<i64>, i64),
    refunded: i64,
    whole_order: bool,
    pass_downs: Vec<u32>,
) -> PyResult<ReversalTuple> {
    let (paid, subsidy, fee, creator_commission, chain_kept, merchant) = split;
    let line = LineSplit {
        paid,
        subsidy,
        fee,
        creator_commission,
        chain_kept,
        merchant,
        ..LineSplit::default()
    };
    let terms = terms_of((0, 0, pass_downs));
    let r = Reversal::of(&line, refunded, whole_order, &terms).map_err(to_py_err)?;
    Ok((
        r.subsidy,
        r.fee,
        r.creator_commission,
        r.chain_kept,
        r.merchant,
    ))
}

// --- creator scoring -------------------------------------------------------------------

/// The sales scores (带货分) of many creators from their 90-day components
/// (`creator::sales_score`); the four lists have one entry per creator.
#[pyfunction]
fn sales_scores(
    order_count_90d: Vec<i64>,
    quality_refund_rate_ppm: Vec<u32>,
    negative_review_rate_ppm: Vec<u32>,
    complaint_rate_ppm: Vec<u32>,
    min_orders: i64,
) -> PyResult<Vec<f64>> {
    let n = order_count_90d.len();
    if [
        &quality_refund_rate_ppm,
        &negative_review_rate_ppm,
        &complaint_rate_ppm,
    ]
    .iter()
    .any(|column| column.len() != n)
    {
        return Err(to_py_err(CoreError::InvalidArgument(vec![
            FieldViolation::new(
                "sales_score_components",
                "every component needs one entry per creator",
            ),
        ])));
    }
    Ok((0..n)
        .map(|i| {
            creator::sales_score(
                order_count_90d[i],
                quality_refund_rate_ppm[i],
                negative_review_rate_ppm[i],
                complaint_rate_ppm[i],
                min_orders,
            )
        })
        .collect())
}

/// Native-endian bytes of a column, for `array.array(code).frombytes` on the Python side.
fn column_bytes<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    values: &[T],
    to_bytes: fn(T) -> [u8; N],
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * N, |buffer| {
        for (chunk, &value) in buffer.chunks_exact_mut(N).zip(values) {
            chunk.copy_from_slice(&to_bytes(value));
        }
        Ok(())
    })
}

/// Columns of `score_creators`, each as native-endian bytes: gmv, sales and followers
/// percentiles (f64), score (f64), rank (u32), tier (u8, `CreatorTier`).
type ScoreColumns<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
);

/// Scores cohorts of creators (`creator::score_cohorts`, GIL released). The raw values come
/// as buffers (`array('q')`, `array('d')`, …) laid out cohort after cohort, each cohort in
/// ascending creator_id order; `weights` are (gmv, sales, followers) ppm.
#[pyfunction]
fn score_creators<'py>(
    py: Python<'py>,
    settled_gmv_fen: PyBuffer<i64>,
    sales_score: PyBuffer<f64>,
    effective_followers: PyBuffer<i64>,
    cohort_sizes: Vec<u32>,
    weights: (u32, u32, u32),
) -> PyResult<ScoreColumns<'py>> {
    let gmv = settled_gmv_fen.to_vec(py)?;
    let sales = sales_score.to_vec(py)?;
    let followers = effective_followers.to_vec(py)?;
    let weights = Weights {
        gmv_ppm: weights.0,
        sales_ppm: weights.1,
        followers_ppm: weights.2,
    };
    let scores = py
        .detach(|| {
            let values = CohortValues {
                settled_gmv_fen: &gmv,
                sales_score: &sales,
                effective_followers: &followers,
            };
            creator::score_cohorts(&values, &cohort_sizes, weights)
        })
        .map_err(to_py_err)?;
    let tiers: Vec<u8> = scores.tier.iter().map(|&t| t as u8).collect();
    Ok((
        column_bytes(py, &scores.gmv_percentile, f64::to_ne_bytes)?,
        column_bytes(py, &scores.sales_percentile, f64::to_ne_bytes)?,
        column_bytes(py, &scores.followers_percentile, f64::to_ne_bytes)?,
        column_bytes(py, &scores.score, f64::to_ne_bytes)?,
        column_bytes(py, &scores.rank, u32::to_ne_bytes)?,
        PyBytes::new(py, &tiers),
    ))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<SearchEngine>()?;
    m.add_function(wrap_pyfunction!(analyze_hero_image, m)?)?;
    m.add_function(wrap_pyfunction!(dhash_distance, m)?)?;
    m.add_function(wrap_pyfunction!(default_ranking_profile, m)?)?;
    m.add_function(wrap_pyfunction!(validate_ranking_profile, m)?)?;
    m.add_function(wrap_pyfunction!(split_orders, m)?)?;
    m.add_function(wrap_pyfunction!(reverse_line, m)?)?;
    m.add_function(wrap_pyfunction!(split_orders_packed, m)?)?;
    m.add_function(wrap_pyfunction!(time_split_orders, m)?)?;
    m.add_function(wrap_pyfunction!(sales_scores, m)?)?;
    m.add_function(wrap_pyfunction!(score_creators, m)?)?;
    m.add_function(wrap_pyfunction!(orders_valid, m)?)?;
    m.add_function(wrap_pyfunction!(split_encoded_orders, m)?)?;
    m.add_function(wrap_pyfunction!(record_responses, m)?)?;
    m.add_function(wrap_pyfunction!(recording_rows, m)?)?;
    m.add_function(wrap_pyfunction!(repeated_field, m)?)?;
    m.add_function(wrap_pyfunction!(valid_order_keys, m)?)?;
    m.add_function(wrap_pyfunction!(split_encoded_blobs, m)?)?;
    Ok(())
}
