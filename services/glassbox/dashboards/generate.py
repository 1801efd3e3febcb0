"""The checked-in dashboards: deploy/grafana/dashboards/<name>.json, regenerated from the Python definitions.

``glassbox dashboards generate`` writes them; ``glassbox dashboards generate --check`` (and the
test suite) fails when a checked-in file differs from what the code generates.
"""

from __future__ import annotations

from pathlib import Path

from glassbox.dashboards.agents import AGENTS_RAG
from glassbox.dashboards.build import DEFAULT_DATABASE, DEFAULT_DATASOURCE_UID, render
from glassbox.dashboards.model import Dashboard
from glassbox.dashboards.overview import OVERVIEW
from glassbox.dashboards.pipeline_health import PIPELINE_HEALTH
from glassbox.dashboards.quality import QUALITY

DASHBOARDS: dict[str, Dashboard] = {
    "overview": OVERVIEW,
    "quality": QUALITY,
    "agents-rag": AGENTS_RAG,
    "pipeline-health": PIPELINE_HEALTH,
}
"""File stem → dashboard."""


def default_dir() -> Path:
    """deploy/grafana/dashboards of the source checkout."""
    return Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"


def rendered(datasource_uid: str = DEFAULT_DATASOURCE_UID, database: str = DEFAULT_DATABASE) -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{stem}.json": render(spec, datasource_uid, database) for stem, spec in DASHBOARDS.items()}


def write(
    directory: Path, datasource_uid: str = DEFAULT_DATASOURCE_UID, database: str = DEFAULT_DATABASE
) -> list[Path]:
    """Write the files that changed; returns them."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered(datasource_uid, database).items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of the files that are missing or differ from the generated dashboards (default options)."""
    return [name for name, text in rendered().items()
            if not (directory / name).exists() or (directory / name).read_text() != text]  # fmt: skip
