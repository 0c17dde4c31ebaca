"""What the plans of the stages with their own scoring jobs share (PDR, template matching): the stage's section and
results folder, its tables and claims under ``<results>/tables``, nothing for the shared metrics rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class OwnScoringPlan:
    """Subclasses set ``PAPER`` and ``specs()`` (the stage's table specs); ``outputs()`` is empty when disabled."""

    config: dict
    config_file: str
    PAPER: ClassVar[str] = ""

    def specs(self) -> list:
        raise NotImplementedError

    @property
    def section(self) -> dict:
        return self.config[self.PAPER]

    @property
    def enabled(self) -> bool:
        return bool(self.section.get("enabled", True))

    @property
    def root(self) -> str:
        return f"{self.config['results']}/{self.PAPER}"

    @property
    def metrics(self) -> str:
        return f"{self.root}/metrics.csv"

    def predictions(self, benchmark: str | None = None) -> list[str]:
        """Nothing for the shared metrics rule: the stage scores its rows with its own jobs."""
        return []

    @property
    def tables_dir(self) -> str:
        return f"{self.config['results']}/tables"

    def table_outputs(self) -> list[str]:
        from robust3d.tables.render import TABLE_FILES

        return [f"{self.tables_dir}/{self.PAPER}_{s.name}.{ext}" for s in self.specs() for ext in TABLE_FILES]

    @property
    def claims(self) -> str:
        return f"{self.tables_dir}/{self.PAPER}_claims.csv"

    def outputs(self) -> list[str]:
        return [*self.table_outputs(), self.claims] if self.enabled else []

    def cuda(self) -> bool:
        return self.config["device"] == "cuda"

    def report_files(self, title: str) -> dict:
        """The stage's part of the HTML report: its tables, claims and docs page (no figures)."""
        return {"title": title, "doc": f"docs/papers/{self.PAPER}.md",
                "tables": [p for p in self.table_outputs() if p.endswith(".csv")], "claims": self.claims,
                "figures": []}
