"""Example applications instrumented with the SDK, used by `glassbox demo`.

- :mod:`.rag_app`: a support bot answering from a knowledge base (retrieval + generation).
- :mod:`.agent_app`: an order-support agent calling tools in a loop.

Both call their LLM through litellm (captured automatically) against a local
fake OpenAI-compatible provider (:mod:`.provider`), and each runs scenarios:
healthy requests next to every failure kind Glassbox diagnoses.
"""
