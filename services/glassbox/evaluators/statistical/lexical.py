"""Lexical text similarity: tokens, stop words, coverage and a TF-IDF cosine over a small document set.

The fallback of the semantic similarity evaluator when no embedding model is installed, and the
relevance test of the refusal rule. Pure Python, deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_TEXT = """a an the and or but if then else of to in on at by for with from as is are was were be been being
    it its this that these those there here i you he she we they me my your our their his her them us do does
    did doing have has had having not no nor so too very can could should would will shall may might must
    what which who whom whose when where why how all any both each few more most other some such only own
    same than just about above below into over under again further once up down out off also s t"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def tokens(text: str) -> list[str]:
    """Lower-case word tokens without stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS]


def stem(token: str) -> str:
    """A crude suffix stripper, so 'refunds', 'refunded' and 'refunding' meet 'refund', 'policies' meets
    'policy' and 'stores' meets 'store' (while 'boxes' meets 'box')."""
    if len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if (token.endswith("es") and token[-3] in "sxz") or token.endswith(("ches", "shes")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    for suffix in ("ing", "ed"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def terms(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)]


def coverage(text: str, reference: str) -> float:
    """Fraction of ``text``'s distinct terms that appear in ``reference`` (1.0 when text has none)."""
    wanted = set(terms(text))
    if not wanted:
        return 1.0
    return len(wanted & set(terms(reference))) / len(wanted)


def tfidf_cosine(a: str, b: str, corpus: Sequence[str] = ()) -> float:
    """Cosine of the TF-IDF vectors of ``a`` and ``b``; IDF from ``a``, ``b`` and ``corpus`` (smoothed)."""
    docs = [Counter(terms(a)), Counter(terms(b)), *(Counter(terms(c)) for c in corpus)]
    if not docs[0] or not docs[1]:
        return 0.0
    n = len(docs)
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())

    def weights(doc: Counter[str]) -> dict[str, float]:
        return {t: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1) for t, c in doc.items()}

    wa, wb = weights(docs[0]), weights(docs[1])
    dot = sum(w * wb.get(t, 0.0) for t, w in wa.items())
    norm = math.sqrt(sum(w * w for w in wa.values())) * math.sqrt(sum(w * w for w in wb.values()))
    return dot / norm if norm else 0.0
