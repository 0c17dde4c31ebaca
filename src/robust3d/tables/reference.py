"""A paper's printed numbers (``papers/<paper>/reference.yaml``): looked up by (table, row key, column key).

Kept apart from :mod:`robust3d.tables.sources` on purpose: nothing here can become one of our values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robust3d.data.io import read_yaml

#: The paper side of a cell the paper prints as "×" (listed under a row's ``na``).
NA_REASON = "× in the paper: the method does not do this task"


@dataclass(frozen=True)
class Reference:
    paper: str
    citation: str
    dataset: str
    # table name -> {"printed_as", "columns", "rows": {row key: {"label", "values", "na", "not_reproduced"}}}; a
    # table whose numbers could not be transcribed says why in "not_transcribed" (every paper cell of it gives that
    # reason). A row's "na" lists the columns the paper prints as "×" (the method does not do the task), its
    # "not_reproduced" why our config has no such model (the reason our cells of the row give).
    tables: dict
    # Numbers the paper states in its text rather than in a table (a claim's threshold): key -> {"value", "text"}.
    stated: dict = field(default_factory=dict)

    def value(self, table: str, row: str, column: str) -> float | None:
        values = self.tables.get(table, {}).get("rows", {}).get(row, {}).get("values", {})
        value = values.get(column)
        return None if value is None else float(value)

    def required(self, table: str, row: str, column: str) -> float:
        """A printed number a claim is built on (its threshold): an error, not a gap, when the file lacks it."""
        value = self.value(table, row, column)
        if value is None:
            raise ValueError(f"{self.paper} reference: no printed {table}[{row}, {column}]")
        return value

    def stated_value(self, key: str) -> float:
        """A number of the paper's text (``stated.<key>.value``), e.g. a claim's threshold."""
        if key not in self.stated or self.stated[key].get("value") is None:
            raise ValueError(f"{self.paper} reference: no stated number '{key}'")
        return float(self.stated[key]["value"])

    def stated_text(self, key: str) -> str:
        """Where the paper states it (``stated.<key>.text``: the sentence quoted)."""
        return " ".join(str(self.stated.get(key, {}).get("text", "")).split())

    def row_label(self, table: str, row: str) -> str | None:
        return self.tables.get(table, {}).get("rows", {}).get(row, {}).get("label")

    def _row(self, table: str, row: str) -> dict:
        return (self.tables.get(table, {}).get("rows") or {}).get(row) or {}

    def not_applicable(self, table: str, row: str, column: str) -> bool:
        """Whether the paper prints "×" in the cell (the row's ``na``): a reason of its own, not a gap."""
        return column in (self._row(table, row).get("na") or ())

    def not_reproduced(self, table: str, row: str) -> str | None:
        """``"not reproduced: <reason>"`` for a row the reference marks ``not_reproduced`` (a method we do not
        rebuild), else None."""
        reason = self._row(table, row).get("not_reproduced")
        return f"not reproduced: {' '.join(str(reason).split())}" if reason else None

    def ours_missing_reason(self, table: str, row: str, reason: str) -> str:
        """The reason our cell of ``row`` gives when the config has no such model: the row's ``not_reproduced``
        reason when it has one (why the model is absent, not just that it is), else ``reason`` unchanged."""
        return self.not_reproduced(table, row) or reason

    def printed_as(self, table: str) -> str | None:
        return self.tables.get(table, {}).get("printed_as")

    def missing_reason(self, table: str, row: str, column: str) -> str:
        if table not in self.tables:
            return "the paper prints no numbers for this (a figure)"
        if self.not_applicable(table, row, column):
            return NA_REASON
        if self.tables[table].get("not_transcribed"):
            return f"paper value not transcribed: {' '.join(str(self.tables[table]['not_transcribed']).split())}"
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
    check_na(data["paper"], data["tables"])
    return Reference(data["paper"], " ".join(data["citation"].split()), data["dataset"], data["tables"],
                     data.get("stated") or {})


def check_na(paper: str, tables: dict) -> None:
    """A cell cannot be both printed and "×": a column in a row's ``values`` and ``na`` is a transcription error."""
    for table, spec in tables.items():
        for row, entry in ((spec or {}).get("rows") or {}).items():
            both = [c for c in (entry or {}).get("na") or () if c in ((entry or {}).get("values") or {})]
            if both:
                raise ValueError(f"{paper} reference: {table}[{row}, {both[0]}] is both a printed value and "
                                 "'na' (×)")
