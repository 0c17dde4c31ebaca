"""The one-page HTML report of a run: one self-contained ``results/report/index.html`` (figures embedded as
``data:`` URIs, no external files) with the run's tables, figures and provenance. :mod:`.metadata` collects the
provenance (git commit, config hash, package versions, machine, device, job times from Snakemake's benchmark
files); :mod:`.browser` opens a written report in a headless Chromium and lists what is broken (images that did not
decode, links to files or to missing anchors). Submodules import their heavy dependencies themselves, so importing
this package costs nothing.
"""
