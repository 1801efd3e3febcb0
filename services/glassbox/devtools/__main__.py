"""``python -m glassbox.devtools``: run the fake OpenAI-compatible LLM provider in the foreground."""

from __future__ import annotations

from glassbox.devtools.fake_llm_cli import main

if __name__ == "__main__":
    main()
