"""Paper tables, claims and the figures' data: specs, the papers' printed numbers, rendering, checked claims.

A table is a :class:`~robust3d.tables.spec.TableSpec` (rows = our model ids with the paper's labels, columns =
what each cell measures). Our values come only from pipeline outputs (metrics.csv, training JSONs, scaling CSV,
predictions) through :class:`~robust3d.tables.sources.Sources`; the paper's printed numbers come only from
``reference/<paper>.yaml``. The two meet only when rendered side by side and when a claim is checked on each.
"""
