//! Settlement: order splits, the recording path read from encoded orders, reversals.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use prost::Message;

use crate::proto;
use crate::wire::{no_refunds_json, MoneyBounds, OrdersRequest, WireOrder, ORDER_STATE_PAID};
use xiaodian_core::error::{CoreError, FieldViolation};
use xiaodian_core::rank::index::HashMap as FastMap;
use xiaodian_core::settle::{
    self, ChainLink, Commissions, Discount, Funder, LineSplit, OrderInput, OrderLine, PackedSplits,
    Reversal, TOTALS_WORDS,
};

use super::{api_err, to_py_err};

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

/// `split_orders_packed` of encoded orders that `read_orders` passed: each read and turned
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
            // The money bounds were checked by `read_orders`; the split's arithmetic
            // is checked whatever they are.
            let Some(order) =
                WireOrder::decode(bytes).filter(|o| o.is_valid(MoneyBounds::FIELDS_ONLY))
            else {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "order {i} is not one that read_orders passes"
                )));
            };
            inputs.push(order.order_input(shop, &rates, default_rate_ppm));
        }
        settle::split_orders(&inputs, &mut allowances, new_merchant_ppm).map_err(to_py_err)
    })?;
    Ok((packed, allowances))
}

/// A recorded order or split the wire cannot read: impossible after `read_orders` (a bug).
fn unreadable() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("a recorded order or its split cannot be read")
}

/// Reads and checks a request carrying orders (`crate::wire::read_orders`), without the GIL:
/// `shape` is "orders" (`RecordOrdersRequest`, `StreamRecordOrdersRequest`), "order"
/// (`RecordOrderRequest`) or "preview" (`PreviewSplitRequest`). Returns (request_id, the orders'
/// encodings, order_ids, shop_ids, paid_at_us); raises `InvalidArgument` naming every broken
/// rule, MALFORMED_REQUEST for bytes that are not the message.
#[pyfunction]
fn read_orders<'py>(
    py: Python<'py>,
    request: &[u8],
    shape: &str,
    max_orders: usize,
    max_line_fen: i64,
    max_order_fen: i64,
) -> PyResult<ReadOrdersTuple<'py>> {
    let shape = match shape {
        "orders" => OrdersRequest::Batch { max_orders },
        "order" => OrdersRequest::Single,
        "preview" => OrdersRequest::Preview,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown shape {other:?}"
            )))
        }
    };
    let bounds = MoneyBounds {
        max_line_fen,
        max_order_fen,
    };
    let read = py
        .detach(|| crate::wire::read_orders(request, shape, bounds))
        .map_err(api_err)?;
    let orders = read.orders.iter().map(|b| PyBytes::new(py, b)).collect();
    Ok((
        read.request_id,
        orders,
        read.order_ids,
        read.shop_ids,
        read.paid_at_us,
    ))
}

/// (request_id, order encodings, order_ids, shop_ids, paid_at_us).
type ReadOrdersTuple<'py> = (
    String,
    Vec<Bound<'py, PyBytes>>,
    Vec<String>,
    Vec<String>,
    Vec<i64>,
);

/// The encoded `RecordOrdersResponse` of recorded orders (encoded) and their packed splits
/// (`split_orders_packed`'s bytes), built in Rust (`crate::wire`).
#[pyfunction]
fn record_responses<'py>(
    py: Python<'py>,
    encoded: Vec<PyBackedBytes>,
    splits: Vec<PyBackedBytes>,
) -> PyResult<Bound<'py, PyBytes>> {
    if splits.len() != encoded.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "one split per order",
        ));
    }
    let bytes = py.detach(|| {
        let words = split_words(&splits);
        crate::wire::record_responses(
            encoded
                .iter()
                .map(|b| &b[..])
                .zip(words.iter().map(|w| &w[..])),
        )
    });
    bytes.map(|b| PyBytes::new(py, &b)).ok_or_else(unreadable)
}

/// The encoded `RecordOrderResponse` of one recorded order (encoded) and its packed split.
#[pyfunction]
fn record_order_response<'py>(
    py: Python<'py>,
    encoded: &[u8],
    split: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let words = words_of(split);
    let response = WireOrder::decode(encoded)
        .and_then(|order| order.record_response(&words))
        .ok_or_else(unreadable)?;
    Ok(PyBytes::new(py, &response))
}

/// The encoded `PreviewSplitResponse` of an order (encoded) and its packed split.
#[pyfunction]
fn preview_split_response<'py>(
    py: Python<'py>,
    encoded: &[u8],
    split: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let words = words_of(split);
    let response = WireOrder::decode(encoded)
        .and_then(|order| order.record_response(&words))
        .and_then(|bytes| proto::RecordOrderResponse::decode(&bytes[..]).ok())
        .ok_or_else(unreadable)?;
    let preview = proto::PreviewSplitResponse {
        split: response.split,
    };
    Ok(PyBytes::new(py, &preview.encode_to_vec()))
}

/// The encoded `StreamRecordOrdersResponse` of a recorded batch.
#[pyfunction]
fn stream_record_orders_response<'py>(
    py: Python<'py>,
    request_id: String,
    order_ids: Vec<String>,
) -> Bound<'py, PyBytes> {
    let response = proto::StreamRecordOrdersResponse {
        request_id,
        order_ids,
    };
    PyBytes::new(py, &response.encode_to_vec())
}

fn words_of(blob: &[u8]) -> Vec<i64> {
    blob.chunks_exact(8)
        .map(|w| i64::from_le_bytes(w.try_into().expect("8 bytes")))
        .collect()
}

/// Packed splits (`split_orders_packed`'s bytes) as i64 words.
fn split_words(splits: &[PyBackedBytes]) -> Vec<Vec<i64>> {
    splits.iter().map(|blob| words_of(blob)).collect()
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
/// (`crate::wire::WireOrder::recording_rows`): the `settlement_orders` rows, the payment and
/// subsidy transfers, and what the orders add to each account's pending payouts (summed over
/// the batch, by account, zeros left out). None when Rust cannot read an order or a sum leaves
/// int64 (impossible for orders `read_orders` passed; `xiaodian.reference.orders.recording_rows` is their definition).
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

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(split_orders, m)?)?;
    m.add_function(wrap_pyfunction!(reverse_line, m)?)?;
    m.add_function(wrap_pyfunction!(split_orders_packed, m)?)?;
    m.add_function(wrap_pyfunction!(time_split_orders, m)?)?;
    m.add_function(wrap_pyfunction!(split_encoded_orders, m)?)?;
    m.add_function(wrap_pyfunction!(read_orders, m)?)?;
    m.add_function(wrap_pyfunction!(record_responses, m)?)?;
    m.add_function(wrap_pyfunction!(record_order_response, m)?)?;
    m.add_function(wrap_pyfunction!(preview_split_response, m)?)?;
    m.add_function(wrap_pyfunction!(stream_record_orders_response, m)?)?;
    m.add_function(wrap_pyfunction!(recording_rows, m)?)?;
    m.add_function(wrap_pyfunction!(split_encoded_blobs, m)?)
}
