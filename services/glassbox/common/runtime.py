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


class CollectBetweenBatches:
    """Cyclic garbage collection at a batch loop's quiet points instead of in the middle of its batches.

    A sink holds up to a batch of rows (tens of thousands of containers) until they are inserted; with
    automatic collection every young collection walks them, and the survivors are walked again in the
    older generations: about a tenth of the sink's CPU. With this, automatic collection is off while the
    loop runs; :meth:`step` collects the young generation at most once per ``interval_s``, right after a
    batch was written (its rows just freed), the middle generation every 10th time and all of them every
    100th, as CPython's own thresholds would. Reference counting still frees everything acyclic at once.
    The setting is process-wide: use it where the loop is the process's main work (the sink's process and
    the pipeline worker that hosts the sink), not in a library caller's process.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.collections = 0
        self._last = 0.0
        self._was_enabled = True

    def start(self, now: float) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._last = now

    def step(self, now: float, wrote: bool) -> None:
        """Collect if ``interval_s`` passed since the last collection: at once after a write, else at the
        first step after 2 × ``interval_s`` (an idle loop still collects)."""
        quiet = now - self._last
        if quiet < self.interval_s or (not wrote and quiet < 2 * self.interval_s):
            return
        self.collections += 1
        gc.collect(2 if self.collections % 100 == 0 else 1 if self.collections % 10 == 0 else 0)
        self._last = now

    def stop(self) -> None:
        if self._was_enabled:
            gc.enable()
