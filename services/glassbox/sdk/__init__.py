"""The Glassbox tracing SDK. See :mod:`glassbox` for the public API."""
