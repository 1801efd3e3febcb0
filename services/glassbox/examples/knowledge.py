"""A small knowledge base and a lexical retriever (BM25-flavoured), enough to make retrieval realistic."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str
    source: str


DOCS: tuple[Doc, ...] = (
    Doc(
        "kb-refunds",
        "Refund policy",
        "Refunds are accepted within 30 days of delivery. Electronics must be unopened to qualify for a refund. Refunds are paid to the original payment method within 5 business days.",
        "policies/refunds.md",
    ),
    Doc(
        "kb-password",
        "Reset your password",
        "To reset your password open Settings, choose Security and click Reset password. A reset link is emailed and expires after 24 hours.",
        "help/password.md",
    ),
    Doc(
        "kb-shipping",
        "Shipping times",
        "Standard shipping takes 3 to 5 business days. Express shipping takes 1 to 2 business days and costs 9 dollars.",
        "help/shipping.md",
    ),
    Doc(
        "kb-hours",
        "Store hours",
        "Our stores open at 9 am and close at 8 pm from Monday to Saturday. On Sunday stores open at 10 am and close at 6 pm.",
        "stores/hours.md",
    ),
    Doc(
        "kb-cpo",
        "Certified pre-owned devices",
        "Certified pre-owned devices carry a 12 month limited guarantee covering hardware faults.",
        "policies/cpo.md",
    ),
    Doc(
        "kb-loyalty",
        "Loyalty points",
        "Members earn 1 point per dollar spent. 100 points can be redeemed for a 5 dollar voucher.",
        "programs/loyalty.md",
    ),
    Doc(
        "kb-giftcards",
        "Gift cards",
        "Gift cards never expire and can be used online and in stores. Gift cards cannot be exchanged for cash.",
        "programs/giftcards.md",
    ),
    Doc(
        "kb-privacy",
        "Privacy and data",
        "We keep order history for 7 years for tax purposes. You can download your data from Settings, choose Privacy.",
        "policies/privacy.md",
    ),
    Doc(
        "kb-payments",
        "Payment methods",
        "We accept credit cards, debit cards, PayPal and gift cards. Payment is taken when the order ships.",
        "help/payments.md",
    ),
    Doc(
        "kb-returns-label",
        "Return labels",
        "Return shipping labels are free for defective items. For other returns the shipping cost is deducted from the refund.",
        "policies/returns.md",
    ),
)


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


class Retriever:
    """BM25 over the knowledge base. Scores are mapped to 0..1 on a scale like a vector store's cosine
    similarity: a strong match lands around 0.8-0.95, a weak lexical one around 0.5."""

    def __init__(self, docs: tuple[Doc, ...] = DOCS, k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = docs
        self.k1, self.b = k1, b
        self.doc_tokens = [Counter(tokens(f"{d.title} {d.text}")) for d in docs]
        self.avg_len = sum(sum(c.values()) for c in self.doc_tokens) / len(docs)
        df: Counter[str] = Counter()
        for counts in self.doc_tokens:
            df.update(counts.keys())
        n = len(docs)
        self.idf = {term: math.log(1 + (n - freq + 0.5) / (freq + 0.5)) for term, freq in df.items()}

    def search(self, query: str, top_k: int = 3, min_score: float = 0.05) -> list[dict[str, object]]:
        terms = tokens(query)
        if not terms:
            return []
        best = sum(self.idf.get(t, 0.0) * (self.k1 + 1) for t in terms) or 1.0
        scored = []
        for doc, counts in zip(self.docs, self.doc_tokens, strict=True):
            length = sum(counts.values())
            score = 0.0
            for term in terms:
                tf = counts.get(term, 0)
                if tf:
                    norm = tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * length / self.avg_len))
                    score += self.idf.get(term, 0.0) * norm
            if score / best >= min_score:
                scored.append((min(0.97, 0.3 + 0.65 * math.sqrt(score / best)), doc))
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [
            {"id": d.id, "score": round(s, 4), "content": d.text, "metadata": {"title": d.title, "source": d.source}}
            for s, d in scored[:top_k]
        ]
