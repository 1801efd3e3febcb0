"""The `glassbox` command line: one command group per concern."""
