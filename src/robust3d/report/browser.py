"""Open a written report in a real headless browser and list what a reader would find broken.

A report that only parses is not a report that shows: an embedded PNG can be truncated, a link can point at a file
that is not shipped or at an anchor that was renamed. :func:`load_page` runs Chromium on the file and returns the
DOM after load, in which :data:`CHECK_SCRIPT` (included by the report) has counted the images that did not decode;
:func:`page_problems` reads that DOM with the standard library and lists the problems in words.

Chromium runs with ``--no-sandbox`` (its sandbox refuses to start as root, as in containers and CI), a fresh
``--user-data-dir`` per call (no profile, lock or cache shared between runs) and ``--virtual-time-budget`` (the dump
waits for the page's load event and timers, so the check script's result is in it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

#: Environment variable naming the browser (a name on PATH or a path); when set, nothing else is tried.
BROWSER_ENV = "ROBUST3D_BROWSER"
#: Executables tried on PATH, in order, when :data:`BROWSER_ENV` is not set.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
#: How to get one on Debian or Ubuntu, for skip and failure messages.
INSTALL_HINT = "apt-get install -y chromium"
#: Flags of every call. --disable-dev-shm-usage: containers' 64 MB /dev/shm crashes Chromium on large pages.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--virtual-time-budget=10000")
WINDOW_SIZE = "1280,2000"
#: Link schemes a report may use: external pages and mail; anything else that is not ``#id`` is a file link.
EXTERNAL_SCHEMES = ("http:", "https:", "mailto:")
#: (tag, attribute) pairs that load a resource; in a self-contained page each must be a ``data:`` URI. <link href>
#: counts only for the rel values that load something (a canonical or alternate link is only a reference).
RESOURCES = (("img", "src"), ("script", "src"), ("link", "href"), ("iframe", "src"), ("source", "src"),
             ("video", "src"), ("video", "poster"), ("audio", "src"), ("embed", "src"), ("object", "data"))
LOADING_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest"}

#: Include this in the page (e.g. at the end of <body>): on load it counts the images that did not load or decode
#: into ``<body data-broken-images>`` and marks ``<body data-checked="yes">``, which :func:`page_problems` reads.
CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var broken = 0;
  document.querySelectorAll("img").forEach(function (img) {
    if (!img.complete || img.naturalWidth === 0) { broken += 1; }
  });
  document.body.dataset.brokenImages = String(broken);
  document.body.dataset.checked = "yes";
});
</script>"""


class BrowserMissing(RuntimeError):
    """No headless browser was found; ``hint`` says how to install one."""

    def __init__(self, message: str, hint: str = INSTALL_HINT) -> None:
        super().__init__(f"{message}; install it with: {hint}")
        self.hint = hint


def find_browser() -> str | None:
    """The browser to run: :data:`BROWSER_ENV` if set (None when it names no executable, rather than silently
    using another browser), else the first of :data:`CANDIDATES` on PATH, else None."""
    chosen = os.environ.get(BROWSER_ENV)
    if chosen:
        return shutil.which(chosen)
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def require_browser() -> str:
    """:func:`find_browser`'s path, or :class:`BrowserMissing` saying where it looked and how to install one."""
    path = find_browser()
    if path is None:
        chosen = os.environ.get(BROWSER_ENV)
        where = f"${BROWSER_ENV}={chosen!r} is not an executable" if chosen else (
            f"none of {', '.join(CANDIDATES)} is on PATH (or set ${BROWSER_ENV})")
        raise BrowserMissing(f"no headless browser: {where}")
    return path


#: stderr lines Chromium writes on every headless run without a desktop session; left out of error messages.
NOISE = ("dbus/", "DBus", "UPower")


def _tail(text: str, lines: int = 15) -> str:
    """The last lines of a browser's stderr, less the dbus noise of every headless run (the cause is at the end)."""
    kept = [line for line in text.strip().splitlines() if not any(noise in line for noise in NOISE)]
    return "\n".join(kept[-lines:]) or "(no stderr besides dbus noise)"


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process``'s whole group (it was started as its leader); gone already is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_browser(browser: str, args: list[str], timeout: float) -> str:
    """Run ``browser`` with :data:`FLAGS`, a fresh profile and ``args``; its stdout. In its own process group, so a
    timeout kills the renderer and zygote children too (they hold the pipes open and would hang the wait)."""
    with tempfile.TemporaryDirectory(prefix="robust3d-browser-", ignore_cleanup_errors=True) as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            _, stderr = process.communicate()
            raise RuntimeError(f"{Path(browser).name} timed out after {timeout:g} s on {args[-1]}; "
                               f"stderr tail:\n{_tail(stderr)}") from None
        finally:
            if process.poll() is None:  # an exception other than the timeout: leave no browser behind
                _kill_group(process)
                process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{Path(browser).name} exited {process.returncode} on {args[-1]}; "
                           f"stderr tail:\n{_tail(stderr)}")
    return stdout


def load_page(html: Path, screenshot: Path | None = None, timeout: float = 60) -> str:
    """The DOM of ``html`` after load (``--dump-dom``), and a ``WINDOW_SIZE`` PNG of it at ``screenshot`` when
    given (a second call: Chromium does one of the two per run). ``timeout`` is per call. Raises RuntimeError
    (with the browser's stderr tail) when the browser fails, hangs or writes nothing."""
    html = Path(html)
    if not html.is_file():  # Chromium would exit 0 with its own error page
        raise FileNotFoundError(f"no page to load at {html}")
    browser = require_browser()
    url = html.resolve().as_uri()
    dom = run_browser(browser, ["--dump-dom", url], timeout)
    if not dom.strip():
        raise RuntimeError(f"{Path(browser).name} dumped an empty DOM for {html}")
    if screenshot is not None:
        screenshot = Path(screenshot).resolve()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.unlink(missing_ok=True)
        run_browser(browser, [f"--screenshot={screenshot}", f"--window-size={WINDOW_SIZE}", url], timeout)
        if not screenshot.is_file() or screenshot.stat().st_size == 0:
            raise RuntimeError(f"{Path(browser).name} wrote no screenshot at {screenshot}")
    return dom


class _PageScan(HTMLParser):
    """What :func:`page_problems` needs from a DOM: <body>'s attributes, every id, links and resource URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str] | None = None
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "body" and self.body is None:
            self.body = values
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "a" and "href" in values:
            self.links.append(values["href"].strip())
        if tag == "link" and not LOADING_RELS & set(values.get("rel", "").lower().split()):
            return
        for resource_tag, attribute in RESOURCES:
            if tag == resource_tag and attribute in values:
                self.resources.append((tag, attribute, values[attribute].strip()))
        if tag == "img" and "src" not in values:
            self.resources.append((tag, "src", ""))


def _short(url: str, width: int = 60) -> str:
    """A URL cut for a message: data URIs of megabytes must not flood a test failure."""
    return url if len(url) <= width else url[:width] + "..."


def _image_problems(body: dict[str, str] | None) -> list[str]:
    """What :data:`CHECK_SCRIPT` left on <body>: it ran, and no image failed."""
    if body is None:
        return ["the page has no <body>"]
    if body.get("data-checked") != "yes":
        return ['the image check did not run (no data-checked="yes" on <body>): the page lacks CHECK_SCRIPT, '
                "or its load event had not fired when the DOM was dumped"]
    broken = body.get("data-broken-images")
    if broken != "0":
        return [f"{broken} image(s) did not load or decode" if broken else "no data-broken-images on <body>"]
    return []


def _link_problem(href: str, ids: set[str]) -> str | None:
    """Why a link would not work from a single shipped file, or None."""
    if href.startswith("#"):
        target = unquote(href[1:])
        return None if target and target in ids else f"link {_short(href)} points at no element with that id"
    if href.lower().startswith(EXTERNAL_SCHEMES):
        return None
    return f"link {_short(href)!r} is not #id or http(s)/mailto (a file next to the report is not shipped with it)"


def page_problems(dom: str) -> list[str]:
    """The problems, in words, of a DOM dumped by :func:`load_page` (empty: fine): broken images or a check that did
    not run, resources that are not ``data:`` URIs, links that are neither an existing ``#id`` nor external."""
    scan = _PageScan()
    scan.feed(dom)
    scan.close()
    problems = _image_problems(scan.body)
    for tag, attribute, url in scan.resources:
        if not url.lower().startswith("data:"):
            problems.append(f"<{tag} {attribute}={_short(url)!r}> is not a data: URI (the page must embed it)")
    problems += [problem for href in scan.links if (problem := _link_problem(href, scan.ids))]
    return list(dict.fromkeys(problems))
