"""Pure-Python references of the Rust kernels in `xiaodian._core`.

Each module is a slow, plainly written twin of one Rust engine that follows the same rules and
the same floating-point arithmetic in the same order. The differential tests (hypothesis) run
both on random inputs and require equal results; benchmarks use them as the baseline.

Search: `search` (analysis, approximate matching, ranking, pages), `pinyin` (readings, the
syllable table, cutting letters into syllables) and `suggest` (Suggest's completions).
"""
