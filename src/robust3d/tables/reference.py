"""A paper's printed numbers (``papers/<paper>/reference.yaml``): looked up by (table, row key, column key).

Kept apart from :mod:`robust3d.tables.sources` on purpose: nothing here can become one of our values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robust3d.data.io import read_yaml


@dataclass(frozen=True)
class Reference:
    paper: str
    citation: str
    dataset: str
    tables: dict  # table name -> {"printed_as", "columns", "rows": {row key: {"label", "values"}}}

    def value(self, table: str, row: str, column: str) -> float | None:
        values = self.tables.get(table, {}).get("rows", {}).get(row, {}).get("values", {})
        value = values.get(column)
        return None if value is None else float(value)

    def row_label(self, table: str, row: str) -> str | None:
        return self.tables.get(table, {}).get("rows", {}).get(row, {}).get("label")

    def printed_as(self, table: str) -> str | None:
        return self.tables.get(table, {}).get("printed_as")

    def missing_reason(self, table: str, row: str, column: str) -> str:
        if table not in self.tables:
            return "the paper prints no numbers for this (a figure)"
        rows = self.tables[table]["rows"]
        if row not in rows:
            return "not a row of the paper's table"
        if column not in self.tables[table].get("columns", {}):
            return "not a column of the paper's table"
        return "not printed in the paper"


def load_reference(path: str | Path) -> Reference:
    """The reference file of one paper (its stage provides the path)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no reference numbers at {path}")
    data = read_yaml(path)
    return Reference(data["paper"], " ".join(data["citation"].split()), data["dataset"], data["tables"])
