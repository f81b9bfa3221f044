"""Demo data: a deterministic, realistic catalog of shops and products for demos and benchmarks."""

from xiaodian.demo.catalog import (
    CATEGORIES,
    DEFAULT_NOW_S,
    Catalog,
    Category,
    ProductTruth,
    generate_catalog,
    iter_products,
    stream_catalog,
    stream_catalog_with_truth,
)

__all__ = [
    "CATEGORIES",
    "DEFAULT_NOW_S",
    "Catalog",
    "Category",
    "ProductTruth",
    "generate_catalog",
    "iter_products",
    "stream_catalog",
    "stream_catalog_with_truth",
]
