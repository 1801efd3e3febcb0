"""LLM-as-judge through litellm: the client (retries, fallbacks, cost), versioned prompts, verdict models."""
