"""The results page (index.html): its mesh encoding, its bytes, and the page itself in a real headless
Chromium opened from file://: no console errors, the 3-D view draws, another object draws another
view, a click on a column header sorts the rows."""

import base64
import io
import shutil

import numpy as np
import pytest
import trimesh
from conftest import copy_run
from PIL import Image

from hypershape.page import encode_mesh, write_page
from hypershape.paths import paths_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BACKGROUND = (250, 250, 250)  # the view's clear colour (viewer.js)


def decode(m: dict) -> tuple[np.ndarray, np.ndarray]:
    """An encoded mesh back to vertices and faces, as viewer.js decodes it."""
    q = np.frombuffer(base64.b64decode(m["positions"]), "<u2").reshape(-1, 3)
    faces = np.frombuffer(base64.b64decode(m["index"]), f"<u{m['index_bits'] // 8}").reshape(-1, 3)
    return np.asarray(m["lo"]) + q / 65535 * np.asarray(m["span"]), faces


def test_a_mesh_under_the_budget_comes_back_within_one_quantisation_step():
    mesh = trimesh.creation.torus(0.6, 0.2)
    m = encode_mesh(mesh, face_budget=len(mesh.faces))
    vertices, faces = decode(m)
    assert np.array_equal(faces, mesh.faces)
    step = np.ptp(mesh.vertices, axis=0) / 65535
    assert np.all(np.abs(vertices - mesh.vertices) <= step / 2 + 1e-9)


def test_a_mesh_over_the_budget_is_decimated_to_it_and_keeps_its_shape():
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=0.7)
    m = encode_mesh(mesh, face_budget=1000)
    vertices, faces = decode(m)
    assert m["faces"] == len(faces) <= 1000 < len(mesh.faces)
    assert faces.max() < len(vertices)
    assert np.allclose(np.linalg.norm(vertices, axis=1), 0.7, atol=0.02)  # still the sphere
    assert encode_mesh(trimesh.Trimesh()) == dict(faces=0)


@pytest.fixture
def page(tiny_run):
    """The paths of the shared tiny run of all nine stages, whose page 90 wrote."""
    return paths_of(tiny_run[0])


@pytest.mark.slow
def test_the_page_is_rewritten_with_the_same_bytes(tiny_run, tmp_path):
    page = paths_of(copy_run(tiny_run[0], tmp_path))
    before = page.index_html.read_bytes()
    write_page(page)
    assert page.index_html.read_bytes() == before


def canvas_pixels(tab) -> np.ndarray:
    """The 3-D view's own pixels (the canvas keeps its drawing buffer), as an RGB array."""
    url = tab.evaluate("document.getElementById('view').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def drawn_views(pixels: np.ndarray) -> list[tuple[float, int]]:
    """Per view (the canvas's four quarters): the share of pixels off the background, and how many
    distinct colours it has (a shaded mesh has many, a flat fill one)."""
    out = []
    for q in np.array_split(pixels, 4, axis=1):
        flat = q.reshape(-1, 3)
        out.append((float(np.any(flat != BACKGROUND, axis=1).mean()), len(np.unique(flat, axis=0))))
    return out


def column(tab, name: str) -> list[str]:
    return tab.evaluate(
        """name => {
          const t = document.getElementById('metrics');
          const i = Array.from(t.tHead.rows[0].cells).findIndex(th => th.textContent === name);
          return Array.from(t.tBodies[0].rows).map(tr => tr.cells[i].dataset.v ?? tr.cells[i].textContent);
        }""",
        name,
    )


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)")
def test_the_page_works_in_a_headless_browser_from_file(page, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # swiftshader: WebGL on the CPU, as a headless machine has no GPU
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
        )
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(page.index_html.resolve().as_uri())
        tab.wait_for_load_state("load")
        tab.screenshot(path=tmp_path / "page.png", full_page=True)  # kept for a person to look at

        objects = tab.evaluate("JSON.parse(document.getElementById('mesh-data').textContent).objects")
        first = canvas_pixels(tab)
        for (covered, colours), m in zip(drawn_views(first), objects[0]["meshes"]):
            if m["faces"]:  # an empty mesh (a failed field) draws nothing
                assert covered > 0.01 and colours > 20, (covered, colours)
        assert objects[0]["meshes"][0]["faces"] > 0  # the ground truth is never empty

        tab.select_option("#object", "1")
        second = canvas_pixels(tab)
        assert first.shape == second.shape and np.any(first != second, axis=2).mean() > 0.01

        # a click on a row of the table shows that row's object
        tab.locator(f"#metrics tbody tr[data-id='{objects[2]['id']}']").first.click()
        assert tab.input_value("#object") == "2"
        assert np.any(canvas_pixels(tab) != second, axis=2).mean() > 0.01

        before = column(tab, "chamfer_l1")
        tab.click("#metrics th:text-is('chamfer_l1')")
        ascending = column(tab, "chamfer_l1")
        tab.click("#metrics th:text-is('chamfer_l1')")
        descending = column(tab, "chamfer_l1")
        assert ascending == sorted(before, key=float) != descending == sorted(before, key=float, reverse=True)
        browser.close()
    assert errors == []
