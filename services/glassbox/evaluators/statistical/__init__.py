"""Statistical evaluators: semantic similarity (embeddings or lexical fallback) and retrieval score statistics."""
