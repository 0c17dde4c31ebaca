"""The report's browser check (robust3d.report.browser): page_problems on hand-written DOMs, then real pages in a
headless Chromium (an embedded PNG that decodes, one that does not, a screenshot, a hang), and the report's
metadata (robust3d.report.metadata) on a tmp benchmarks folder and a tmp git repository."""

from __future__ import annotations

import base64
import io
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from robust3d.report import browser as browser_module
from robust3d.report.browser import (
    BROWSER_ENV,
    CHECK_SCRIPT,
    INSTALL_HINT,
    BrowserMissing,
    find_browser,
    load_page,
    page_problems,
    require_browser,
)
from robust3d.report.metadata import JOB_COLUMNS, NO_GIT, config_hash, git_commit, job_times, run_metadata

CHECKED = '<body data-broken-images="0" data-checked="yes">'


def browser_or_skip() -> str:
    """The headless browser's path; without one the test skips, except in CI (``CI=true``, set by ``.ci/run``),
    where it fails: the report's check must not pass there by running nothing."""
    try:
        return require_browser()
    except BrowserMissing as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (CI=true: the browser check may not be skipped)")
        pytest.skip(f"no headless browser; install it with: {INSTALL_HINT}")


@pytest.fixture
def browser() -> str:
    """:func:`browser_or_skip` as a fixture."""
    return browser_or_skip()


def page(body: str, body_tag: str = CHECKED) -> str:
    """A dumped-DOM-like page around ``body``."""
    return f'<!DOCTYPE html><html><head><title>t</title></head>{body_tag}{body}</body></html>'


def png_data_uri() -> str:
    """A small PNG, base64 in a data: URI."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


GOOD = page(f'<h2 id="results">R</h2><a href="#results">up</a> <a href="https://example.org/x">ext</a> '
            f'<a href="mailto:a@b.c">mail</a> <a name="old">plain anchor</a> <img src="{png_data_uri()}" alt="fig">')


def test_good_page_has_no_problems() -> None:
    assert page_problems(GOOD) == []


def test_anchor_to_a_missing_id() -> None:
    problems = page_problems(page('<h2 id="results">R</h2><a href="#resutls">typo</a>'))
    assert len(problems) == 1 and "#resutls" in problems[0] and "no element" in problems[0]


def test_percent_encoded_anchor_matches_its_id() -> None:
    assert page_problems(page('<h2 id="a b">R</h2><a href="#a%20b">x</a>')) == []


@pytest.mark.parametrize("href", ["figures/f1.png", "../results/table.csv", "file:///tmp/x.html", "#"])
def test_relative_or_file_link_is_a_problem(href: str) -> None:
    problems = page_problems(page(f'<a href="{href}">x</a>'))
    assert len(problems) == 1 and href in problems[0]


def test_image_that_is_not_a_data_uri() -> None:
    problems = page_problems(page('<img src="figures/curve.png"><img>'))
    assert len(problems) == 2 and "figures/curve.png" in problems[0] and "data: URI" in problems[0]


def test_stylesheet_and_script_files_are_problems_but_a_canonical_link_is_not() -> None:
    problems = page_problems(page('<link rel="stylesheet" href="style.css"><script src="app.js"></script>'
                                  '<link rel="canonical" href="https://example.org/">'))
    assert len(problems) == 2 and "style.css" in problems[0] and "app.js" in problems[1]


def test_broken_image_count_and_a_check_that_did_not_run() -> None:
    broken = page_problems(page("", '<body data-broken-images="1" data-checked="yes">'))
    assert broken == ["1 image(s) did not load or decode"]
    unchecked = page_problems(page("", "<body>"))
    assert len(unchecked) == 1 and "did not run" in unchecked[0]


def test_long_data_uri_is_cut_in_messages() -> None:
    problems = page_problems(page(f'<a href="data:text/plain;base64,{"A" * 10_000}">x</a>'))
    assert len(problems) == 1 and len(problems[0]) < 300


def test_find_browser_env_wins_and_require_browser_says_how_to_install(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv(BROWSER_ENV, str(fake))
    assert find_browser() == str(fake)
    monkeypatch.setenv(BROWSER_ENV, str(tmp_path / "absent"))
    assert find_browser() is None
    with pytest.raises(BrowserMissing, match=INSTALL_HINT) as missing:
        require_browser()
    assert missing.value.hint == INSTALL_HINT and BROWSER_ENV in str(missing.value)


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)])
def test_browser_or_skip_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch, ci: str | None,
                                                         outcome: type[BaseException]) -> None:
    monkeypatch.setattr(browser_module, "find_browser", lambda: None)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install -y chromium"):
        browser_or_skip()


def test_failing_browser_raises_with_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "broken-chrome"
    fake.write_text("#!/bin/sh\necho 'something went wrong: no display' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv(BROWSER_ENV, str(fake))
    html = tmp_path / "index.html"
    html.write_text(GOOD)
    with pytest.raises(RuntimeError, match=r"exited 3(.|\n)*no display"):
        load_page(html)
    with pytest.raises(FileNotFoundError):
        load_page(tmp_path / "missing.html")


def write_page(path: Path, image_src: str) -> Path:
    """A report-like page: an anchor, one embedded image, the check script."""
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>'
                    f'<h1 id="top">Report</h1><a href="#top">top</a><img src="{image_src}" alt="figure">'
                    f"{CHECK_SCRIPT}</body></html>")
    return path


def test_embedded_png_loads_and_screenshot_is_written(browser: str, tmp_path: Path) -> None:
    shot = tmp_path / "shots" / "page.png"
    dom = load_page(write_page(tmp_path / "good.html", png_data_uri()), screenshot=shot)
    assert 'data-checked="yes"' in dom and 'data-broken-images="0"' in dom
    assert page_problems(dom) == []
    assert shot.stat().st_size > 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(shot).size == (1280, 2000)


def test_corrupt_data_uri_counts_as_a_broken_image(browser: str, tmp_path: Path) -> None:
    corrupt = png_data_uri()[:60]  # the PNG header and nothing more
    dom = load_page(write_page(tmp_path / "bad.html", corrupt))
    assert 'data-broken-images="1"' in dom
    assert page_problems(dom) == ["1 image(s) did not load or decode"]


def test_hanging_page_times_out_with_a_clear_error(browser: str, tmp_path: Path) -> None:
    html = tmp_path / "hang.html"
    html.write_text("<!DOCTYPE html><html><body><script>while (true) {}</script></body></html>")
    with pytest.raises(RuntimeError, match="timed out after 3 s"):
        load_page(html, timeout=3)


def test_job_times_sums_first_s_per_stage(tmp_path: Path) -> None:
    header = "s\th:m:s\tmax_rss\n"
    for rel, rows in {"synth/train/chunk000.tsv": ["2.5", "9"], "synth/test.tsv": ["1.5"],
                      "depth/extract.tsv": ["60"], "empty/none.tsv": []}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + "".join(f"{s}\t0:00:01\t1\n" for s in rows))
    times = job_times(tmp_path)
    assert list(times.columns) == JOB_COLUMNS and list(times["stage"]) == ["depth", "synth"]
    assert list(times["jobs"]) == [1, 2] and list(times["seconds"]) == [60.0, 4.0]
    assert list(times["minutes"]) == [1.0, 4.0 / 60]
    missing = job_times(tmp_path / "absent")
    assert missing.empty and list(missing.columns) == JOB_COLUMNS


def test_git_commit_marks_tracked_changes_and_never_raises(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == NO_GIT
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x", "--allow-empty"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True)
    (tmp_path / "untracked.txt").write_text("x")
    clean = git_commit(tmp_path)
    assert len(clean) == 40 and "modified" not in clean
    (tmp_path / "tracked.txt").write_text("x")
    subprocess.run(["git", "add", "tracked.txt"], cwd=tmp_path, check=True)
    assert git_commit(tmp_path) == f"{clean} (modified)"


def test_run_metadata_fields(tmp_path: Path) -> None:
    fields = run_metadata({"device": "cpu", "seed": 0}, repo=tmp_path, benchmarks=tmp_path / "absent")
    assert list(fields)[:2] == ["git commit", "config hash"] and list(fields)[-1] == "generated"
    assert fields["git commit"] == NO_GIT and fields["job time"] == "no benchmark files"
    assert fields["pytorch3d"] != "not installed" and fields["device"].startswith("config: cpu")
    assert all(isinstance(value, str) for value in fields.values())
    assert config_hash({"seed": 0, "device": "cpu"}) == fields["config hash"] and len(fields["config hash"]) == 12
    assert config_hash({"seed": 1}) != config_hash({"seed": 0}) and config_hash(None) == "no config"
