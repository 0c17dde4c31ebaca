"""HTML building blocks of the report: escaped text, tables, embedded images and the page around them.

Everything the page shows is inside the one file: images are ``data:`` URIs (figures as PNG, the large contact
sheets re-encoded as JPEG at a readable width, so the page stays small enough to mail), the style is inline and
the only script is the load check the browser test reads (:data:`robust3d.report.browser.CHECK_SCRIPT`).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path

#: Contact sheets wider than this are scaled down before embedding (figures are embedded as they are).
SHEET_WIDTH = 560

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #888; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.6em; } nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .86em; }
th, td { border: 1px solid #ccc; padding: .2em .45em; vertical-align: top; }
th { background: #f0f0f0; } tr.paper td { color: #555; background: #fafafa; }
td.num { text-align: right; white-space: nowrap; } .small { font-size: .82em; color: #666; }
.ci { display: block; font-size: .78em; color: #666; } .chance { display: block; font-size: .78em; color: #a60; }
.verdict { font-weight: bold; padding: .05em .4em; border-radius: .3em; white-space: nowrap; }
.v-holds { background: #d4f4d4; } .v-fails { background: #f8d0d0; } .v-noise { background: #fbefc4; }
.v-other { background: #e4e4e4; } tr.byom td { background: #eef4ff; font-size: .92em; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; max-width: 580px; }
figure img { max-width: 100%; border: 1px solid #ddd; } figcaption { font-size: .85em; color: #444; }
.notes { font-size: .85em; color: #333; } code { background: #f4f4f4; padding: 0 .2em; }
"""


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text))


def tag(name: str, body: str = "", **attrs: object) -> str:
    """``<name attrs>body</name>``; attribute values escaped, ``class_`` for ``class``, None values left out."""
    rendered = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return f"<{name}{rendered}>{body}</{name}>"


def table(header: Iterable[str], rows: Iterable[Iterable[str]], row_classes: Iterable[str | None] | None = None,
          class_: str | None = None) -> str:
    """A table from already-rendered cell HTML (header cells are escaped)."""
    head = tag("tr", "".join(tag("th", esc(h)) for h in header))
    classes = list(row_classes) if row_classes is not None else None
    body = "".join(tag("tr", "".join(cells if isinstance(cells, str) else "".join(cells)),
                       class_=classes[i] if classes else None)
                   for i, cells in enumerate(rows))
    return tag("table", tag("thead", head) + tag("tbody", body), class_=class_)


def td(body: str, numeric: bool = False, **attrs: object) -> str:
    return tag("td", body, class_="num" if numeric else None, **attrs)


def bullet_list(items: Iterable[str], class_: str = "notes") -> str:
    items = list(items)
    return tag("ul", "".join(tag("li", esc(i)) for i in items), class_=class_) if items else ""


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image(path: Path, caption: str, width: int | None = None, alt: str | None = None) -> str:
    """A figure with the file embedded; ``width``: scale down to at most this many pixels and embed as JPEG."""
    data, mime = path.read_bytes(), "image/png"
    if width is not None:
        data, mime = _downscaled_jpeg(path, width)
    img = tag("img", src=data_uri(data, mime), alt=alt or caption)
    return tag("figure", img + tag("figcaption", esc(caption)))


def _downscaled_jpeg(path: Path, width: int) -> tuple[bytes, str]:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    if img.shape[1] > width:
        img = cv2.resize(img, (width, round(img.shape[0] * width / img.shape[1])), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 72])
    if not ok:
        raise ValueError(f"cannot encode {path} as JPEG")
    return buf.tobytes(), "image/jpeg"


def page(title: str, body: str, script: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}{script}</body></html>\n")
