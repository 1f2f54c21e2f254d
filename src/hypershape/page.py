"""The results page of a run and route: index.html beside 90's summary, one self-contained file that opens
from file:// with no network. It holds the summary table, the per-object metrics (rows sort by a click on
a column header), an orbitable 3-D view of the selected object's ground truth, target, predicted and
refined meshes side by side, and the summary and convergence pictures.

Browsers refuse ES module imports and fetch() on file:// pages, so the viewer (three.js with its
OrbitControls, bundled as one minified IIFE; see page_assets/README.md), the page's script and the mesh
data are all inlined. Meshes are decimated to FACE_BUDGET faces and stored as base64 little-endian typed
arrays (positions quantised to uint16 within the mesh's bounds), which keeps a page of many objects small.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
from pathlib import Path

import numpy as np
import trimesh

from .records import atomic_write

ASSETS = Path(__file__).parent / "page_assets"
# at most this many faces per mesh: the page of 12 objects x 4 meshes stays well under 20 MB
FACE_BUDGET = 15000
# the page's names of the four meshes, in the order they are shown
VIEWS = ("ground truth", "target", "predicted", "refined")
PICTURE_CAPTIONS = ("ground truth, target, predicted and refined meshes", "loss curves")


def b64(array: np.ndarray) -> str:
    return base64.b64encode(array.tobytes()).decode("ascii")


def encode_mesh(mesh: trimesh.Trimesh, face_budget: int = FACE_BUDGET) -> dict:
    """A mesh as the page stores it: decimated to at most `face_budget` faces (quadric decimation, which
    is deterministic), vertices quantised to uint16 between the mesh's lower and upper corner, faces as
    uint16 indices where the vertex count allows (uint32 otherwise). An empty mesh has no arrays."""
    if len(mesh.faces) == 0:
        return dict(faces=0)
    if len(mesh.faces) > face_budget:
        mesh = mesh.simplify_quadric_decimation(face_count=face_budget)
    v = np.asarray(mesh.vertices, dtype=np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.round((v - lo) / span * 65535).astype("<u2")
    wide = len(v) > 65535
    return dict(
        faces=len(mesh.faces),
        lo=[round(float(x), 6) for x in lo],
        span=[round(float(x), 6) for x in span],
        positions=b64(q),
        index_bits=32 if wide else 16,
        index=b64(np.asarray(mesh.faces, dtype="<u4" if wide else "<u2")),
    )


def load_mesh(path: Path) -> trimesh.Trimesh:
    """A mesh file as a Trimesh; an absent file is an empty mesh (as 90 shows a failed field)."""
    return trimesh.load(path, force="mesh", process=False) if path.exists() else trimesh.Trimesh()


def mesh_data(paths, objects: list[tuple[str, str]]) -> list[dict]:
    """Every object's four meshes, encoded for the page, in the order the (id, split) pairs are listed."""
    out = []
    for obj_id, split in objects:
        files = [paths.solid(obj_id)] + [paths.mesh(obj_id, k) for k in VIEWS[1:]]
        out.append(dict(id=obj_id, split=split, meshes=[encode_mesh(load_mesh(f)) for f in files]))
    return out


def markdown_html(text: str) -> str:
    """summary.md as HTML: its tables as tables, '- ' lines as a list, other lines as paragraphs. Reading
    the Markdown keeps the page's summary identical to the printed one, whatever its columns."""
    out, rows, items = [], [], []

    def flush():
        if rows:
            head, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("-: ")]
            out.append(
                "<table class='summary'><thead><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
                + "</tbody></table>"
            )
            rows.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        if line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    return "\n".join(out)


def sort_key(cell: str) -> str:
    """A metrics.csv cell as the number it sorts by (booleans as 0/1), or '' for text."""
    if cell in ("True", "False"):
        return str(int(cell == "True"))
    try:
        return repr(float(cell))
    except ValueError:
        return ""


def shown(cell: str) -> str:
    key = sort_key(cell)
    return f"{float(key):.4g}" if key and cell not in ("True", "False") else cell


def metrics_html(csv_text: str) -> str:
    """metrics.csv as a table, one row per object and SIREN kind; numeric cells carry data-v, what the
    page's script sorts them by."""
    header, *rows = list(csv.reader(csv_text.splitlines()))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = []
    for r in rows:
        cells = "".join(
            (f"<td data-v='{k}'>" if (k := sort_key(c)) else f"<td title='{html.escape(c, quote=True)}'>")
            + html.escape(shown(c))
            + "</td>"
            for c in r
        )
        body.append(f"<tr data-id='{html.escape(r[0], quote=True)}'>{cells}</tr>")
    return f"<table id='metrics'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def picture_html(path: Path, caption: str) -> str:
    """A PNG inlined as a data URI (the page is one file), or nothing where the picture was not made."""
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    image = f"<img alt='{caption}' src='data:image/png;base64,{data}'>"
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def inline_script(text: str) -> str:
    """Text safe to put between <script> tags: '</' would end the element early."""
    return text.replace("</", "<\\/")


def page_html(paths, summary: dict) -> str:
    """The whole page of a run and route, from 90's files and 02's solids."""
    objects = list({r["id"]: r["split"] for r in summary["rows"]}.items())  # in the table's order
    data = dict(views=VIEWS, objects=mesh_data(paths, objects))
    route = summary["route"]
    fields = {
        "@TITLE@": html.escape(f"hypershape: {paths.root.name}, route {route}"),
        "@SUMMARY@": markdown_html(paths.summary_md.read_text()),
        "@METRICS@": metrics_html(paths.metrics_csv.read_text()),
        "@PICTURES@": "".join(map(picture_html, pictures(paths), PICTURE_CAPTIONS)),
        "@THREE@": inline_script((ASSETS / "three-viewer.min.js").read_text()),
        "@VIEWER@": inline_script((ASSETS / "viewer.js").read_text()),
        "@DATA@": inline_script(json.dumps(data, separators=(",", ":"))),
    }
    # one pass, so a marker-like string inside an inserted text is left alone
    return re.sub(r"@[A-Z]+@", lambda m: fields[m.group()], (ASSETS / "page.html").read_text())


def pictures(paths) -> list[Path]:
    """The pictures the page shows where they exist: 90's summary and the convergence figure."""
    return [paths.summary_png, paths.curves_png]


def page_inputs(paths) -> list:
    """What the page depends on besides 90's summary and meshes: its pictures (one may be made after
    the page) and its template, script and viewer bundle (not Python, so not in the code version)."""
    files = [f for f in pictures(paths) if f.exists()] + sorted(ASSETS.iterdir())
    return [(f.name, hashlib.sha1(f.read_bytes()).hexdigest()) for f in files]


def write_page(paths) -> Path:
    """Write the run's index.html (paths.index_html) from its summary, metrics, meshes and pictures."""
    summary = json.loads(paths.summary_json.read_text())
    text = page_html(paths, summary)
    return atomic_write(paths.index_html, lambda p: p.write_text(text, encoding="utf-8"))
