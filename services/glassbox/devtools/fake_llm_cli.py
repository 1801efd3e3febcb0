"""Command line of the fake LLM: ``python -m glassbox.devtools [--port N] [--config rules.yaml] [--latency S]``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from glassbox.devtools.fake_llm import FakeLLM


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) file declaring ``rules`` and server options."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with 'rules'")
    return data


def main(argv: list[str] | None = None) -> None:
    """Run the fake provider in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m glassbox.devtools", description="Run the fake OpenAI-compatible LLM provider."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--config", help="YAML/JSON file with 'rules' and options")
    parser.add_argument("--latency", type=float, default=None, help="seconds added to every request")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else {}
    config.update(host=args.host, port=args.port or config.get("port", 0))
    if args.latency is not None:
        config["latency"] = args.latency
    with FakeLLM.from_config(config) as llm:
        print(f"fake LLM listening on {llm.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
