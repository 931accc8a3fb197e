"""openshape_ood.scenes.html: the self-contained HTML page of a scored scene, and ``scene --html``.

The page is checked twice: its content here (the figure and the written file), and in a real
headless browser (Debian's chromium, by its own screenshot and, with playwright, by hovering
an object), skipped with the reason where no browser is installed.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys

import numpy as np
from scipy.spatial import cKDTree
import pytest

from openshape_ood.cli import main
from openshape_ood.scenes.rows import SceneObject, SceneScores
from openshape_ood.scenes.html import scene_figure, thin_for_display, write_scene_html

from ..synthetic_scene import OBJECTS, make_synthetic_scene
from ..helpers.scenes import write_labelled_ply

plotly = pytest.importorskip("plotly", reason='the HTML view needs plotly: pip install "openshape-ood[html]"')

# The two ends of plotly's Viridis colour scale (the lowest and the highest novelty), and the background grey.
LOWEST, HIGHEST, GREY = (0x44, 0x01, 0x54), (0xFD, 0xE7, 0x25), (153, 153, 153)


def hand_scores(xyz, labels, classes, novelty, p_values=None, threshold=None) -> SceneScores:
    """Scores made by hand for the objects ``0..K-1`` of ``labels``: the oracle of the page's content."""
    objects, per_point = [], np.full(len(xyz), np.nan)
    for i, (name, value) in enumerate(zip(classes, novelty)):
        cut = xyz[labels == i]
        per_point[labels == i] = value
        objects.append(
            SceneObject(
                id=i,
                points=len(cut),
                bbox_min=tuple(cut.min(axis=0)),
                bbox_max=tuple(cut.max(axis=0)),
                centroid=tuple(cut.mean(axis=0)),
                class_=name,
                similarity=-value,
                novelty=value,
                verdict=None if threshold is None else ("novel" if value > threshold else "known"),
                p_value=None if p_values is None else p_values[i],
            )
        )
    return SceneScores(objects, labels, per_point, threshold)


@pytest.fixture(scope="module")
def scored_scene():
    """The synthetic room (six meshes on a floor before a wall, Y up), its objects scored by hand."""
    points, truth = make_synthetic_scene(spacing=0.03, seed=2)
    novelty = np.linspace(-0.3, 0.2, len(OBJECTS))  # object 0 the lowest, the last the highest
    classes = ["mug", "chair", "lamp", "sofa", "<b>cup & saucer</b>", "bed"]
    p_values = np.linspace(0.9, 0.01, len(OBJECTS))
    return points, hand_scores(points.astype(np.float64), truth, classes, novelty, p_values, threshold=0.05)


def object_traces(figure) -> dict[str, object]:
    return {trace.name: trace for trace in figure.data if trace.hovertext}


# ------------------------------------------------------------------------------ thinning


def test_thinning_takes_every_sth_point_of_each_group_with_the_smallest_stride_that_fits():
    labels = np.array([-1] * 10 + [0] * 5 + [1])
    # stride 3 would draw 4 + 2 + 1 = 7 > 6 points; stride 4 draws 3 + 2 + 1.
    np.testing.assert_array_equal(thin_for_display(labels, 6), [0, 4, 8, 10, 14, 15])
    # The same, the groups interleaved: each group's points are counted in file order.
    order = np.random.default_rng(0).permutation(len(labels))
    shown = thin_for_display(labels[order], 6)
    for group in (-1, 0, 1):
        members = np.flatnonzero(labels[order] == group)
        np.testing.assert_array_equal(shown[labels[order][shown] == group], members[::4])
    np.testing.assert_array_equal(thin_for_display(labels, 16), np.arange(16))  # all fit: all drawn


@pytest.mark.parametrize("max_points", [8, 100, 999, 5000])
def test_thinning_stays_within_the_bound_and_keeps_every_object(max_points):
    rng = np.random.default_rng(max_points)
    labels = np.concatenate([np.full(8000, -1), rng.integers(0, 6, 3000), [6]])  # object 6 has one point
    shown = thin_for_display(labels, max_points)
    assert len(shown) <= max_points
    assert len(np.unique(shown)) == len(shown) and (np.diff(shown) > 0).all()
    assert set(labels[shown]) == set(labels)
    np.testing.assert_array_equal(shown, thin_for_display(labels, max_points))  # deterministic
    with pytest.raises(ValueError, match="fewer than the 7 objects and the background"):
        thin_for_display(labels, 7)


# -------------------------------------------------------------------------- page content


def test_each_object_is_one_trace_with_its_points_and_its_fields_on_hover(scored_scene):
    points, scores = scored_scene
    figure = scene_figure(points, scores, up_axis="y", title="room.ply")
    traces = object_traces(figure)
    # Class names are shown as text, not HTML (plotly renders its labels as HTML).
    escaped = "&lt;b&gt;cup &amp; saucer&lt;/b&gt;"
    legend = ["0: mug (known)", "1: chair (known)", "2: lamp (known)", "3: sofa (known)", f"4: {escaped} (novel)",
              "5: bed (novel)"]  # fmt: skip
    assert list(traces) == legend
    for obj, trace in zip(scores.objects, traces.values()):
        cut = points[scores.labels == obj.id]
        np.testing.assert_allclose(np.stack([trace.x, trace.y, trace.z], axis=1), cut, atol=1e-6)
        np.testing.assert_array_equal(trace.marker.color, np.full(len(cut), obj.novelty))
        assert (trace.marker.cmin, trace.marker.cmax) == (-0.3, 0.2)
        lines = trace.hovertext.split("<br>")
        assert lines == [
            f"object {obj.id} ({obj.points:,} points)",
            "class: " + (escaped if obj.id == 4 else obj.class_),
            f"similarity: {obj.similarity:.4f}",
            f"novelty: {obj.novelty:.4f}",
            f"p_value: {obj.p_value:.4f}",
            f"verdict: {obj.verdict}",
        ]
    background = next(trace for trace in figure.data if trace.name == "background")
    assert len(background.x) == int((scores.labels < 0).sum()) and background.hoverinfo == "skip"
    assert sum(trace.marker.showscale is True for trace in figure.data) == 1  # one colour bar
    title = figure.layout.title.text
    assert title.startswith("room.ply<br>6 objects;") and f"{len(points):,} of {len(points):,} points shown" in title
    assert dict(figure.layout.scene.camera.up.to_plotly_json()) == {"x": 0, "y": 1, "z": 0}


def test_without_calibration_or_threshold_the_hover_has_no_p_value_or_verdict(scored_scene):
    points, scores = scored_scene
    plain = scores._replace(objects=[obj.__class__(**{**obj.__dict__, "p_value": None, "verdict": None})
                                     for obj in scores.objects], threshold=None)  # fmt: skip
    for trace in object_traces(scene_figure(points, plain)).values():
        assert "p_value" not in trace.hovertext and "verdict" not in trace.hovertext
        assert "novelty: " in trace.hovertext and "(" not in trace.name


def test_large_scans_are_thinned_and_the_title_says_how_many_points_are_shown(scored_scene):
    points, scores = scored_scene
    figure = scene_figure(points, scores, max_points=2000)
    drawn = sum(len(trace.x) for trace in figure.data if trace.mode == "markers")
    assert drawn == len(thin_for_display(scores.labels, 2000)) <= 2000
    assert f"{drawn:,} of {len(points):,} points shown (thinned evenly for display)" in figure.layout.title.text


def test_coordinates_far_from_the_origin_are_drawn_relative_to_a_rounded_centre(scored_scene):
    points, scores = scored_scene
    far = points.astype(np.float64) + [512345.25, 5432100.5, 20.0]  # UTM metres
    figure = scene_figure(far, scores._replace(objects=[]))
    centre = np.round((far.min(axis=0) + far.max(axis=0)) / 2)
    background = figure.data[0]
    # In float32 (WebGL) 5432100 m would keep half-metres; relative to the centre, micrometres.
    np.testing.assert_allclose(background.y, far[scores.labels < 0, 1] - centre[1], atol=1e-5)
    assert np.abs(background.y).max() < 2
    titles = [figure.layout.scene[axis].title.text for axis in ("xaxis", "yaxis", "zaxis")]
    assert titles == [f"x - {centre[0]:.0f} (m)", f"y - {centre[1]:.0f} (m)", f"z - {centre[2]:.0f} (m)"]
    near = scene_figure(points, scores._replace(objects=[]))
    assert near.layout.scene.xaxis.title.text == "x (m)"  # a room in its own frame stays as it is


def test_a_scan_read_relative_to_its_files_origin_names_that_origin_on_its_axes(scored_scene):
    # A LAS file in map coordinates is read relative to a local origin (load_scene's return_origin): the points
    # are local, and the axes say where they are in the file's coordinates.
    points, scores = scored_scene
    figure = scene_figure(points, scores._replace(objects=[]), origin=np.array([512000.0, 5403000.0, 0.0]))
    titles = [figure.layout.scene[axis].title.text for axis in ("xaxis", "yaxis", "zaxis")]
    assert titles == ["x - 512000 (m)", "y - 5403000 (m)", "z (m)"]
    np.testing.assert_allclose(figure.data[0].x, points[scores.labels < 0, 0], atol=1e-6)  # drawn as read
    with pytest.raises(ValueError, match="origin must be three finite coordinates"):
        scene_figure(points, scores, origin=[0.0, np.nan, 0.0])


def test_the_page_is_self_contained_deterministic_and_checked(scored_scene, tmp_path):
    points, scores = scored_scene
    page_path = write_scene_html(tmp_path / "deep" / "scene.html", points, scores, up_axis="y")
    page = page_path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert re.findall(r"<script[^>]*\bsrc\s*=", page, flags=re.I) == []  # plotly.js is inlined, not fetched
    assert re.findall(r"<link[^>]*https?:", page, flags=re.I) == []
    assert "plotly.js v" in page and 'id="scene"' in page
    assert "class: mug" in page  # the hover texts are in the page's data
    assert list(tmp_path.joinpath("deep").iterdir()) == [page_path]  # no temporary file left
    again = write_scene_html(tmp_path / "again.html", points, scores, up_axis="y")
    assert again.read_bytes() == page_path.read_bytes()
    with pytest.raises(ValueError, match="scores are for"):
        write_scene_html(tmp_path / "bad.html", points[:-1], scores)
    with pytest.raises(ValueError, match="up_axis"):
        write_scene_html(tmp_path / "bad.html", points, scores, up_axis="w")
    assert not (tmp_path / "bad.html").exists()


# -------------------------------------------------------------------------------- command


def test_scene_command_writes_the_html_page(tiny_registry, tmp_path, capsys):
    points, truth = make_synthetic_scene(spacing=0.03, seed=2)
    scan = tmp_path / "scan.ply"
    write_labelled_ply(scan, points, truth)
    page = tmp_path / "view.html"
    code = main(["scene", str(scan), "--known", "duck,rabbit", "--model", "vitb32", "--threshold", "-0.1",
                 "--out", str(tmp_path / "out.ply"), "--html", str(page), "-q"])  # fmt: skip
    assert code == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    text = page.read_text(encoding="utf-8")
    assert "scan.ply" in text and f"{len(OBJECTS)} objects;" in text
    for row in rows:  # every row of the table is an object of the page, with the same numbers
        object_id, _, name, similarity, novelty, verdict = row.split()[:6]
        assert f"object {object_id} (" in text
        assert f"class: {name}<br>similarity: {similarity}<br>novelty: {novelty}" in text.replace(
            "\\u003cbr\\u003e", "<br>"
        )


def test_scene_command_without_plotly_says_how_to_install_it_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly now raises ImportError
    scan = tmp_path / "scan.ply"
    write_labelled_ply(scan, np.eye(3, dtype=np.float32), np.array([0, 0, 1]))
    out = tmp_path / "o.ply"
    assert main(["scene", str(scan), "--known", "duck", "--out", str(out), "--html", str(tmp_path / "v.html")]) == 2
    assert 'pip install "openshape-ood[html]"' in capsys.readouterr().err
    assert not out.exists()


# ------------------------------------------------------------------------ a real browser


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    pytest.skip("no headless browser installed (apt-get install chromium) to open the page")


# Headless, software WebGL (no GPU), no sandbox (containers run as root).
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--hide-scrollbars", "--no-first-run", "--disable-extensions"]  # fmt: skip
WINDOW = (1200, 900)


def pixels_near(image: np.ndarray, colour, tolerance: int = 30) -> np.ndarray:
    """``(n, 2)`` x, y of the pixels within ``tolerance`` (sum of channel differences) of ``colour``,
    in the middle of the page (the legend is left of it, the colour bar right of it)."""
    left, right = int(0.2 * image.shape[1]), int(0.8 * image.shape[1])
    ys, xs = np.nonzero(np.abs(image[:, left:right, :3].astype(int) - colour).sum(axis=2) < tolerance)
    return np.stack([xs + left, ys], axis=1)


def screenshot(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_the_page_renders_in_a_headless_browser(scored_scene, tmp_path):
    browser = chromium()
    points, scores = scored_scene
    page = write_scene_html(tmp_path / "scene.html", points, scores, up_axis="y")
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=20000",
         "--proxy-server=127.0.0.1:9",  # nothing reachable: the page must not need the network
         f"--screenshot={shot}", page.as_uri()],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    image = screenshot(shot.read_bytes())
    # The WebGL canvas drew the scene: the floor and wall grey, the least novel object at the dark end
    # of the colour scale, the most novel at the bright end; a blank or unrendered page has none of them.
    assert len(pixels_near(image, GREY)) > 20000
    assert len(pixels_near(image, LOWEST)) > 200 and len(pixels_near(image, HIGHEST)) > 200


def test_hovering_an_object_in_a_headless_browser_shows_its_scores(scored_scene, tmp_path):
    browser = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="hovering needs playwright (pip install playwright)")
    points, scores = scored_scene
    page_path = write_scene_html(tmp_path / "scene.html", points, scores, up_axis="y")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=browser, args=BROWSER_FLAGS[1:])
        try:
            page = instance.new_page(viewport={"width": WINDOW[0], "height": WINDOW[1]})
            requested = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(page_path.as_uri())
            page.wait_for_selector("#scene .gl-container canvas", timeout=60000)
            page.wait_for_timeout(1000)  # the first WebGL frame
            legend = page.eval_on_selector_all(".legendtext", "items => items.map(item => item.textContent)")
            # The least novel object: of the pixels of its colour, the one farthest from the grey
            # background's, so that the point picked under the mouse is the object's, not the floor's.
            image = screenshot(page.screenshot())
            ours, grey = pixels_near(image, LOWEST), pixels_near(image, GREY)
            assert len(ours) > 200
            x, y = ours[np.argmax(cKDTree(grey).query(ours)[0])]
            hover = ""
            for step in range(10):  # the 3D scene picks points on its next frames
                page.mouse.move(float(x) + step % 2, float(y), steps=3)
                page.wait_for_timeout(300)
                hover = page.eval_on_selector_all(".hovertext", "labels => labels.map(l => l.textContent).join()")
                if hover:
                    break
        finally:
            instance.close()
    assert [url for url in requested if not url.startswith(("file:", "data:", "blob:"))] == []
    assert legend[:3] == ["background", "0: mug (known)", "1: chair (known)"]
    obj = scores.objects[0]
    assert hover == (
        f"object 0 ({obj.points:,} points)class: mugsimilarity: {obj.similarity:.4f}"
        f"novelty: {obj.novelty:.4f}p_value: {obj.p_value:.4f}verdict: known"
    )
