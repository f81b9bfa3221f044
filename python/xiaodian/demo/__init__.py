"""Demo data: a deterministic, realistic catalog of shops and products for demos and benchmarks."""

from xiaodian.demo.catalog import (
    CATEGORIES,
    DEFAULT_NOW_S,
    Catalog,
    Category,
    generate_catalog,
    iter_products,
    stream_catalog,
)

__all__ = [
    "CATEGORIES",
    "DEFAULT_NOW_S",
    "Catalog",
    "Category",
    "generate_catalog",
    "iter_products",
    "stream_catalog",
]
