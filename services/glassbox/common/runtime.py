"""Process-wide runtime settings for the long-running services (assembler, sink, evaluators, worker)."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 10)
"""Generation thresholds for the cyclic garbage collector (CPython's defaults: 700, 10, 10).

A worker holds big batches of young objects (decoded spans, pydantic models, rows) while it works on
them; with the default young-generation threshold of 700 allocations the collector walks those batches
again and again, which cost about two thirds of span validation in a batch of 20,000 spans. Reference
counting still frees everything acyclic at once; cycles are collected every 50,000 allocations."""


def tune_gc() -> None:
    """Freeze what start-up allocated (modules, settings, clients: never garbage) out of the collector's
    sight, and raise the young-generation threshold. Call once, when the service is about to run."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
