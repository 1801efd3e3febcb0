"""Background evaluators: sampling, rule checks, statistical checks, LLM-as-judge and the failure taxonomy.

The public API for custom evaluators is :class:`Verdict` and :class:`Score` (see
:mod:`glassbox.evaluators.custom`); the workers run with ``glassbox evaluator``.
"""

from __future__ import annotations

from glassbox.evaluators.types import Score, Verdict

__all__ = ["Score", "Verdict"]
