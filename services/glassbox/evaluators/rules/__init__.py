"""Deterministic rule evaluators: structure of the output, tools, loops, retrieval, spikes."""
