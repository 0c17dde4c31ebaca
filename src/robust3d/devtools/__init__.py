"""Development checks (e.g. the import-graph checker in :mod:`robust3d.devtools.imports`).

Run by tests and by hand only: no pipeline code imports this package (the import checker enforces that).
"""
