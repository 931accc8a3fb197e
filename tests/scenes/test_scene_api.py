"""score_scene from fitted parts (issue 26, item 4): the ``scene`` command runs the same path and gives the
same rows; a detector and its encoder go in, one row type comes out; the old form is refused with the new."""

from __future__ import annotations

import json
import re
import textwrap
from types import SimpleNamespace

import numpy as np
import plyfile
import pytest
from sklearn.exceptions import NotFittedError

from openshape_ood import EnsembleDetector, NoveltyDetector, ShapeEncoder
from openshape_ood.cli import main
from openshape_ood.detectors import fit_detector
from openshape_ood.scenes import find_objects, load_scene, score_scene
from openshape_ood.segmentation import SceneSegmenter

from ..helpers.scene_scoring import HandMadeEncoder, toy_scene, unit
from ..synthetic_scene import make_synthetic_scene

KNOWN_EMBEDDINGS = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # text embeddings of two known classes
ROWS = {0: unit(1, 0, 0), 1: unit(0.6, 0.8, 0), 2: unit(0, 0, 1)}  # max_cosine: cos 1, 0.8, 0 to the nearest class


def test_the_command_and_score_scene_give_the_same_rows_settings_and_labels(tiny_registry, tmp_path, capsys):
    points, _ = make_synthetic_scene(spacing=0.03, seed=2)
    vertex = np.empty(len(points), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    vertex["x"], vertex["y"], vertex["z"] = points[:, :3].T
    scan = tmp_path / "room.ply"
    plyfile.PlyData([plyfile.PlyElement.describe(vertex, "vertex")]).write(str(scan))  # no labels: segmented
    out = tmp_path / "out.ply"
    code = main(["scene", str(scan), "--known", "duck,rabbit", "--model", "vitb32", "--threshold", "-0.1",
                 "--min-points", "30", "--out", str(out), "--json", "-q"])  # fmt: skip
    assert code == 0
    document = json.loads(capsys.readouterr().out)

    points, _ = load_scene(scan)
    encoder = ShapeEncoder.from_pretrained("vitb32")
    detector = fit_detector(["duck", "rabbit"], model=encoder, threshold=-0.1, progress=False)
    result = score_scene(points, detector=detector, encoder=encoder, segmentation={"min_points": 30}, progress=False)
    # No up axis: the support is the largest plane, and the floor and the wall are about as large (5,376 and
    # 5,333 points): either may be taken, and both paths must take the same.
    assert len(result.objects) >= 2 and document["segmentation"]["up_axis"] == result.up_axis
    assert document["objects"] == [obj.to_dict() for obj in result.objects]  # the same rows, every field
    assert document["segmentation"] == result.settings.to_dict() and result.settings.source["min_points"] == "given"
    assert document["threshold"] == result.threshold == -0.1
    np.testing.assert_array_equal(plyfile.PlyData.read(str(out))["vertex"]["instance"], result.labels)
    assert set(document["objects"][0]) == {
        "id", "points", "bbox_min", "bbox_max", "centroid", "class", "similarity", "novelty", "p_value", "verdict",
    }  # fmt: skip


def test_one_row_type_per_object_whose_class_is_named_class_in_every_form():
    points, labels = toy_scene()
    detector = fit_detector(KNOWN_EMBEDDINGS, threshold=-0.5)
    result = score_scene(points, detector=detector, encoder=HandMadeEncoder(ROWS), segmentation=labels)
    row = result.objects[1]
    assert row.class_ == "1" and row.to_dict()["class"] == "1" and row.scored_fields()["class"] == "1"
    assert row.to_dict() == {
        "id": 1, "points": 20, "bbox_min": list(row.bbox_min), "bbox_max": list(row.bbox_max),
        "centroid": list(row.centroid), "class": "1", "similarity": row.similarity, "novelty": row.novelty,
        "p_value": None, "verdict": "known",
    }  # fmt: skip
    assert row.novelty == pytest.approx(-0.8) and row.similarity == pytest.approx(0.8)


@pytest.mark.parametrize(
    "call, shown",
    [
        (
            lambda points, labels, encoder: score_scene(
                points, KNOWN_EMBEDDINGS, model=encoder, labels=labels, calibration=np.eye(3)[:2], tpr=0.5,
                up_axis="z", seed=7,
            ),
            """\
            from openshape_ood.detectors import fit_detector
            detector = fit_detector(known, model=encoder)
            detector.calibrate(calibration, tpr=0.5)
            result = score_scene(points, detector=detector, encoder=encoder, segmentation=labels, up_axis='z', seed=7)""",
        ),
        (
            lambda points, labels, encoder: score_scene(points, ["cup", "box"], model="vitl14", method="knn", k=3),
            """\
            from openshape_ood import ShapeEncoder
            encoder = ShapeEncoder.from_pretrained('vitl14')
            from openshape_ood.detectors import fit_detector
            detector = fit_detector(known, method='knn', k=3, model=encoder)
            result = score_scene(points, detector=detector, encoder=encoder)""",
        ),
        (
            lambda points, labels, encoder: score_scene(points, fit_detector(KNOWN_EMBEDDINGS), model=encoder),
            "result = score_scene(points, detector=known, encoder=encoder)",
        ),
        (
            lambda points, labels, encoder: score_scene(points, detector=fit_detector(KNOWN_EMBEDDINGS)),
            "result = score_scene(points, detector=detector, encoder=encoder)",
        ),
    ],
    ids=["fitting-and-calibrating", "by-registry-name", "fitted-detector-positional", "no-encoder"],
)
def test_the_old_form_is_refused_with_the_call_written_in_the_new_form(call, shown):
    points, labels = toy_scene()
    encoder = HandMadeEncoder(ROWS)
    with pytest.raises(TypeError) as error:
        call(points, labels, encoder)
    assert textwrap.dedent(str(error.value).split("\n\n", 1)[1]) == textwrap.dedent(shown)
    assert encoder.calls == []  # refused before any work


def test_the_new_form_shown_for_an_old_call_runs_and_gives_what_the_old_call_meant():
    points, labels = toy_scene()
    calibration = np.array([unit(1, 0, 0), unit(0.9, 0.1, 0.3), unit(0.5, 0.5, 0.7), unit(0.2, 0, 1)])
    with pytest.raises(TypeError) as error:
        score_scene(points, KNOWN_EMBEDDINGS, model=HandMadeEncoder(ROWS), labels=labels, calibration=calibration,
                    tpr=0.75)  # fmt: skip
    code = textwrap.dedent(str(error.value).split("\n\n", 1)[1])
    names = {"points": points, "labels": labels, "known": KNOWN_EMBEDDINGS, "calibration": calibration,
             "encoder": HandMadeEncoder(ROWS), "score_scene": score_scene}  # fmt: skip
    exec(code, names)  # noqa: S102 - the message's own code, as a user would paste it
    result = names["result"]
    # By hand: calibration novelty -1, -0.94, -0.50, -0.20; tpr 0.75 accepts three: threshold -0.50.
    assert result.threshold == pytest.approx(-np.max(calibration @ KNOWN_EMBEDDINGS.T, axis=1)[2])
    assert [o.verdict for o in result.objects] == ["known", "known", "novel"]


def test_the_detector_and_the_rule_are_checked_before_any_work():
    points, labels = toy_scene()
    encoder = HandMadeEncoder(ROWS)
    with pytest.raises(NotFittedError, match="detector= is not fitted"):
        score_scene(points, detector=NoveltyDetector(), encoder=encoder, segmentation=labels)
    with pytest.raises(ValueError, match="calibrated detector"):
        score_scene(points, detector=fit_detector(KNOWN_EMBEDDINGS), encoder=encoder, segmentation=labels, fdr=0.1)
    with pytest.raises(TypeError, match="detector= must be a fitted NoveltyDetector"):
        score_scene(points, detector=["cup"], encoder=encoder, segmentation=labels)
    with pytest.raises(TypeError, match=r"ShapeEncoder.from_pretrained\('vitb32'\)"):
        score_scene(points, detector=fit_detector(KNOWN_EMBEDDINGS), encoder="vitb32", segmentation=labels)
    assert encoder.calls == []


def test_segmentation_takes_settings_labels_or_objects_found_before(monkeypatch):
    points, truth = toy_scene()
    calls = []

    def segmenter(points, up_axis, **options):  # records how segment_scene is called; the floor says z is up
        calls.append((up_axis, options))
        return np.where(truth >= 0, 2 - truth, -1), SimpleNamespace(up_axis="z")

    monkeypatch.setattr("openshape_ood.scenes.scene.segment_scene", segmenter)
    found = find_objects(points, {"min_points": 30}, seed=5)
    assert calls == [(None, {"seed": 5, "return_settings": True, "min_points": 30})]
    assert found.up_axis == "z" and found.settings.up_axis == "z"
    np.testing.assert_array_equal(found.labels, np.where(truth >= 0, 2 - truth, -1))
    assert find_objects(points, up_axis="x").up_axis == "x" and calls[-1] == ("x", {"seed": 0, "return_settings": True})
    assert find_objects(points, found) is found  # objects found before are used as they are
    with pytest.raises(ValueError, match="up axis 'z', not 'y'"):
        find_objects(points, found, up_axis="y")
    with pytest.raises(ValueError, match="not segmentation settings"):
        find_objects(points, {"seed": 1})
    given = find_objects(points, np.where(truth == 2, -7, truth))  # negative labels are background
    assert given.settings is None and given.up_axis == "y" and given.labels.dtype == np.int64
    np.testing.assert_array_equal(given.labels, np.where(truth == 2, -1, truth))
    assert find_objects(points, truth, up_axis="Z").up_axis == "z" and len(calls) == 2  # given labels: no segmentation
    with pytest.warns(UserWarning, match="label\\(s\\) 1$"):  # all its points at one place: no shape to encode
        flat = find_objects(np.where((truth == 1)[:, None], 0.5, points), truth)
    np.testing.assert_array_equal(flat.labels, np.where(truth == 1, -1, truth))


@pytest.mark.parametrize("segmentation, kind", [("instance", "str"), (SceneSegmenter(min_points=30), "SceneSegmenter")])
def test_a_segmentation_that_is_no_settings_labels_or_objects_says_what_it_takes(segmentation, kind):
    points, _ = toy_scene()
    message = (f"segmentation= takes None, a mapping of segment_scene settings, per-point labels ({len(points)},) or a "
               f"SceneLabels; got a {kind}. For a SceneSegmenter pass its labels, segmentation=segmenter.fit(points)")
    with pytest.raises(TypeError, match=re.escape(message)):
        find_objects(points, segmentation)


def test_an_ensemble_scores_each_object_with_one_encoder_per_member(tiny_registry):
    points, labels = toy_scene()
    rng = np.random.default_rng(1)
    widths = {"vitb32": 64, "vitl14": 96}  # the tiny registry's embedding widths
    rows = {name: {i: unit(*rng.normal(size=width)) for i in range(3)} for name, width in widths.items()}
    known = {name: np.stack([unit(*rng.normal(size=width)) for _ in range(2)]) for name, width in widths.items()}
    detector = EnsembleDetector(model=list(widths)).fit(known)
    by_list = score_scene(points, detector=detector, encoder=[HandMadeEncoder(rows[n]) for n in widths],
                          segmentation=labels)  # fmt: skip
    by_name = score_scene(points, detector=detector, encoder={n: HandMadeEncoder(rows[n]) for n in widths},
                          segmentation=labels)  # fmt: skip
    # By hand: the raw average of the members' max_cosine novelty.
    embedded = {name: np.stack([rows[name][i] for i in range(3)]) for name in widths}
    novelty = np.mean([-np.max(embedded[n] @ known[n].T, axis=1) for n in widths], axis=0)
    np.testing.assert_allclose([o.novelty for o in by_list.objects], novelty, atol=1e-6)
    assert by_name.objects == by_list.objects
    with pytest.raises(TypeError, match="ensemble of 2 members"):
        score_scene(points, detector=detector, encoder=HandMadeEncoder(rows["vitb32"]), segmentation=labels)
