"""The 3DOS synthetic-to-real novelty benchmark (SR1, SR2) with OpenShape embeddings, no fine-tuning.

    python -m benchmarks.sr1 --model vitl14 [--data-root 3D_OS_release_data] [--methods ...]
    python -m benchmarks.sr1 --model vitl14 --methods max_cosine "mcm(temperature=0.01)"
    python -m benchmarks.sr2 --model vitl14 ...

or from Python, :func:`run_benchmark`. One run takes the real ScanObjectNN samples of the
3DOS release, embeds them with a registered OpenShape encoder and scores them with every
requested novelty method against the known classes of the source set: zero-shot text
methods against the real-side class names, reference-shape methods against the ModelNet40
training shapes of those classes. Each method is reported exactly as the 3DOS code reports
it (three comparisons, closed-set accuracy, the ``to spreadsheet:`` line), then all methods
in one table beside the published figures, and ``results.json`` and the figures are written.

Score direction: the library's scores are NOVELTY scores (higher = more novel); the 3DOS
metrics take NORMALITY, which here is always ``-novelty``.

Preparation of the real clouds: as the 3DOS test loader (all 2048 points, randomly permuted,
centred on the mean, divided by the max norm), then as the OpenShape encoders expect
(:meth:`~openshape_ood.ShapeEncoder.embed`: the data's Y-up axis onto the model's, RGB 0.4,
10,000 points). Reference shapes: 1024 random points each, as 3DOS evaluates them, then the
same encoder preparation. Embeddings are cached on disk (:mod:`benchmarks.embedding_cache`),
so a run with other methods or the other source re-encodes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

import openshape_ood
from openshape_ood import (
    EnsembleDetector,
    NoveltyDetector,
    ShapeEncoder,
    TextEncoder,
    closed_set_metrics,
    get_entry,
)
from openshape_ood.atomic import write_bytes
from openshape_ood.encoders._checkpoint import CheckpointError
from openshape_ood.classnames import TEMPLATE_SETS, resolve_templates
from openshape_ood.device import resolve_device, resolve_dtype
from openshape_ood.methods import METHODS, NegativeLabels, NoveltyMethod, make_method, method_spec, parse_method
from openshape_ood.prepare import normalize_xyz, preparation_settings
from openshape_ood.progress import progress_bar, show_progress
from openshape_ood.encoders._registry import ModelEntry, UnknownModelError

from .data import (
    DEFAULT_DATA_ROOT,
    SCANOBJECTNN_FILES,
    SCANOBJECTNN_POINTS,
    Samples,
    SyntheticToReal,
    load_modelnet_reference,
    load_synthetic_to_real,
    modelnet_reference_file,
    release_count_differences,
)
from .embedding_cache import cached_embeddings, default_embedding_cache_dir
from .options import add_dtype_option, add_progress_options, error, progress_wanted
from .plots import plot_histograms, plot_overview, plot_roc, set_names
from .provenance import combine_provenance, registry_note, run_provenance, short_provenance
from .published import rows_for
from .report import compare_unknown_sets, format_report, format_summary

__all__ = [
    "REFERENCE_METHODS",
    "REFERENCE_POINTS",
    "BenchmarkResult",
    "MethodResult",
    "build_parser",
    "evaluate_novelty",
    "main",
    "prepare_real_clouds",
    "run_benchmark",
    "sample_reference_points",
    "write_outputs",
]

#: Methods that score against the ModelNet40 reference shapes.
REFERENCE_METHODS = tuple(name for name, method in METHODS.items() if "reference" in method.needs)
#: Points per reference shape, as 3DOS samples them from the ModelNet40 shapes at evaluation.
REFERENCE_POINTS = 1024
DATA_UP_AXIS = "y"  # both release datasets are stored Y up
SETS = ("known", "unknown_1", "unknown_2")
#: float32 unless asked: the arithmetic of the published rows, so that they stay comparable.
DEFAULT_DTYPE = "float32"
DEFAULT_OUTPUT = "results"  # listed in .gitignore
REAL_PROTOCOL = "3DOS: all points, permuted, centred, unit ball"
REFERENCE_PROTOCOL = "3DOS: random points per shape"


@dataclass
class MethodResult:
    """One scoring method's outcome.

    Attributes:
        method: the method with its parameters (:func:`~openshape_ood.methods.method_spec`: ``"knn"``,
            ``"mcm(temperature=0.01)"``).
        novelty: ``"known"``, ``"unknown_1"``, ``"unknown_2"`` -> NOVELTY scores (higher = more novel).
        comparisons: the three 3DOS comparisons of the normality ``-novelty``.
        closed_set: accuracy and balanced accuracy of the method's class predictions on the known set.
    """

    method: str
    novelty: dict[str, np.ndarray]
    comparisons: dict[str, dict[str, float]]
    closed_set: dict[str, float]

    def report(self) -> str:
        """The 3DOS text block of this method."""
        return format_report(self.method, self.comparisons, self.closed_set)


@dataclass
class BenchmarkResult:
    """A whole run: every method's result and what it was measured on.

    Attributes:
        source: ``"SR1"`` or ``"SR2"``, the known classes.
        model: the shape encoder's registry name.
        seed: the run's seed.
        templates: the text methods' prompt templates (a set name or a list).
        methods: method -> :class:`MethodResult`, in report order.
        counts: samples per set (``known``, ``unknown_1``, ``unknown_2``; ``reference`` when used).
        settings: class sets, data, preparation and device settings.
        notes: remarks printed during the run (e.g. methods left out, counts off the release).
        class_counts: set -> class name -> samples (merged classes named ``desk+table``).
        count_differences: the sets whose size differs from the 3DOS release; when any
            does, the run is not comparable to the published rows.
        provenance: what made the result (:func:`~benchmarks.provenance.run_provenance`).
        files: files written to the output folder.
        library_version: the openshape_ood version that measured it.
    """

    source: str
    model: str
    seed: int
    templates: str | list[str]
    methods: dict[str, MethodResult]
    counts: dict[str, int]
    settings: dict
    notes: list[str] = field(default_factory=list)
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    count_differences: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    library_version: str = openshape_ood.__version__

    @property
    def comparable(self) -> bool:
        """Whether the set sizes are those of the 3DOS release, so the published rows are comparable."""
        return not self.count_differences

    def counts_report(self) -> str:
        """Samples per set and per class, one line per set."""
        other = "SR2" if self.source == "SR1" else "SR1"
        names = {"known": f"known ({self.source})", "unknown_1": f"unknown set 1 ({other})",
                 "unknown_2": "unknown set 2 (common)", "reference": f"reference ({self.source}_train)"}  # fmt: skip
        lines = [f"{self.source} samples per set and class:"]
        for name, total in self.counts.items():
            classes = ", ".join(f"{label} {n}" for label, n in self.class_counts.get(name, {}).items())
            lines.append(f"  {names.get(name, name)}: {total}" + (f" = {classes}" if classes else ""))
        return "\n".join(lines)

    def report(self) -> str:
        """The 3DOS text blocks of all methods, separated by blank lines."""
        return "\n\n".join(result.report() for result in self.methods.values())

    def summary(self) -> str:
        """All methods' AUROC / FPR95 of known vs both unknown sets, in percent, beside the published rows."""
        measured = {method: r.comparisons for method, r in self.methods.items()}
        views = self.settings.get("views", 1)
        model = self.model if views == 1 else f"{self.model} ({views} test-time views)"
        notes_above = [note for note in (registry_note(self.provenance) if self.provenance else None,
                                         _not_comparable_note(self.count_differences)) if note]  # fmt: skip
        return format_summary(
            self.source, measured, model=model, templates=self.templates, seed=self.seed,
            checkpoint_sha256=self.provenance.get("checkpoint_sha256"), notes_above=notes_above,
        )  # fmt: skip

    def to_json(self) -> dict:
        """Everything measured, as JSON-ready data (the content of ``results.json``)."""
        return {
            "benchmark": "3DOS synthetic-to-real novelty detection",
            "source": self.source,
            "model": self.model,
            "seed": self.seed,
            "templates": self.templates,
            "library_version": self.library_version,
            "provenance": self.provenance,
            "score_direction": "metrics take normality = -novelty; novelty: higher = more novel",
            "comparable_to_published": self.comparable,
            "count_differences": self.count_differences,
            "counts": self.counts,
            "class_counts": self.class_counts,
            "settings": self.settings,
            "notes": self.notes,
            "methods": {
                method: {"comparisons": r.comparisons, "closed_set": r.closed_set} for method, r in self.methods.items()
            },
        }


def _not_comparable_note(differences: Sequence[str]) -> str | None:
    if not differences:
        return None
    return (
        f"note: the set sizes differ from the 3DOS release ({'; '.join(differences)}): this run is NOT "
        "comparable to the published rows; check that the release is completely downloaded and extracted"
    )


def prepare_real_clouds(points: np.ndarray, seed: int) -> np.ndarray:
    """The 3DOS test-time preparation of real clouds: all points, randomly permuted, centred, unit ball.

    Args:
        points: ``[n, p, 3]`` clouds as stored.
        seed: seeds the permutations.

    Returns:
        ``[n, p, 3]`` float32: each cloud in a random point order, centred on its mean and
        divided by its largest point norm.
    """
    rng = np.random.default_rng([seed, 0])
    prepared = np.empty(points.shape, np.float32)
    for i, cloud in enumerate(points):
        prepared[i] = normalize_xyz(cloud[rng.permutation(len(cloud))], i)
    return prepared


def sample_reference_points(points: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` random points (without replacement, seeded) of each shape ``[n, p, 3]`` -> ``[n, count, 3]``."""
    if not 1 <= count <= points.shape[1]:
        raise ValueError(f"count must be between 1 and the {points.shape[1]} points per shape, got {count}")
    rng = np.random.default_rng([seed, 1])
    return np.stack([cloud[rng.choice(len(cloud), count, replace=False)] for cloud in points])


def evaluate_novelty(
    method: str,
    known: np.ndarray,
    unknown_1: np.ndarray,
    unknown_2: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
) -> MethodResult:
    """A :class:`MethodResult` of ``method`` from the NOVELTY scores (higher = more novel) of the three sets.

    The 3DOS metrics are computed on the normality ``-novelty``; ``labels`` and
    ``predicted`` are the true and predicted classes of the known samples.
    """
    novelty = {name: np.asarray(scores, dtype=np.float64) for name, scores in zip(SETS, (known, unknown_1, unknown_2))}
    comparisons = compare_unknown_sets(-novelty["known"], -novelty["unknown_1"], -novelty["unknown_2"])
    return MethodResult(method, novelty, comparisons, closed_set_metrics(labels, predicted))


def run_benchmark(
    source: str,
    model: str,
    *,
    data_root: str | os.PathLike = DEFAULT_DATA_ROOT,
    methods: Sequence[str | NoveltyMethod] | None = None,
    templates: str | Sequence[str] = "openshape64",
    device: str | None = None,
    batch_size: int = 16,
    seed: int = 0,
    views: int = 1,
    dtype: str = DEFAULT_DTYPE,
    output: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> BenchmarkResult:
    """Run the 3DOS synthetic-to-real benchmark with a registered OpenShape encoder.

    Args:
        source: ``"SR1"`` or ``"SR2"``: the known classes.
        model: registry name of the shape encoder (``"vitb32"``, ``"vitl14"``, ``"vitg14"``), or
            several joined by ``+`` (``"vitb32+vitl14+vitg14"``): every method then runs on each
            model (reported as ``method@model``) and on their ensemble
            (:class:`~openshape_ood.detectors.ensemble.EnsembleDetector`, raw average of the members'
            novelty; reported as ``method@vitb32+vitl14+vitg14``).
        data_root: the 3DOS release root (``python -m benchmarks.download`` fetches it).
        methods: novelty methods, in report order: method objects (``MCM(temperature=0.01)``)
            or their text (``"mcm(temperature=0.01)"``, see :func:`~openshape_ood.methods.parse_method`);
            ``None``: every method with its defaults, the reference-shape ones (``prototype``,
            ``knn``, ``fused``) only when the ModelNet40 file ``SR{1,2}_train.h5`` is present
            (a note says when they are left out).
        templates: prompt templates of the text methods (``"openshape64"``, ``"none"`` or a list).
        device: where the encoders run; ``None``: CUDA when available, else CPU.
        batch_size: clouds per forward pass.
        seed: seeds the point permutations, the reference subsampling and the encoder's resampling.
        views: test-time views per cloud (:meth:`~openshape_ood.ShapeEncoder.embed`); 1 is the plain embedding.
        dtype: what the shape encoders compute in (``"float32"``, the published arithmetic;
            ``"bfloat16"``; ``"auto"``, see :func:`~openshape_ood.device.resolve_dtype`):
            recorded in the provenance and part of every cache key.
        output: folder for ``results.json`` and the figures; ``None`` writes nothing.
        cache_dir: embedding cache folder; ``None``: :func:`~benchmarks.embedding_cache.default_embedding_cache_dir`.
        progress: show progress bars and progress messages (on stderr); ``None``: when stderr
            is a terminal or this runs in Jupyter. Notes are printed either way.

    Returns:
        A :class:`BenchmarkResult`.

    Raises:
        FileNotFoundError: missing data files (the message says how to download them),
            also when a reference-shape method is asked for without the ModelNet40 file.
        ValueError: unknown source, method or template set, or malformed data.
        UnknownModelError: unknown model name (a KeyError).
        CheckpointError: the checkpoint cannot be fetched or verified.

    Set sizes that differ from the 3DOS release are not an error: the run goes on, and a
    note (printed, in the summary and in ``results.json``) says that it is not comparable
    to the published rows.
    """
    progress = show_progress(progress)
    data_root = Path(data_root)
    templates = templates if isinstance(templates, str) else list(templates)
    resolve_templates(templates)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if views < 1:
        raise ValueError(f"views must be at least 1, got {views}")
    methods, notes = _resolve_methods(methods, source, data_root)
    entries = [get_entry(name) for name in model.split("+")]
    device = str(resolve_device(device))
    dtype = resolve_dtype(dtype, device).name  # a concrete name for keys and provenance, never "auto"
    data = load_synthetic_to_real(source, data_root)
    reference = _load_reference(source, data_root) if any(_uses_reference(m) for m in methods.values()) else None
    sets = (data.known, data.unknown_1, data.unknown_2)
    counts = {name: len(samples) for name, samples in zip(SETS, sets)}
    class_counts = {name: _class_counts(samples, samples.class_set.real_names()) for name, samples in zip(SETS, sets)}
    if reference is not None:
        counts["reference"] = len(reference)
        class_counts["reference"] = _class_counts(reference, reference.class_set.synthetic_names())
    differences = release_count_differences(source, counts)
    notes.extend(note for note in [_not_comparable_note(differences)] if note)
    for note in notes:
        print(note, file=sys.stderr)
    provenance = combine_provenance([
        run_provenance(entry, templates=templates, seed=seed, device=device, dtype=dtype) for entry in entries
    ])  # fmt: skip
    real_points = _all_real_points(data)
    cache = Path(cache_dir) if cache_dir is not None else default_embedding_cache_dir()
    members, preparations = [], {}
    for entry in entries:
        embedder = _Embedder(
            entry, cache, device=device, dtype=dtype, batch_size=batch_size, seed=seed, views=views,
            progress=progress,
        )
        real = embedder(
            "scanobjectnn", [data_root / name for name in SCANOBJECTNN_FILES], len(real_points),
            {"points": SCANOBJECTNN_POINTS, "protocol": REAL_PROTOCOL},
            lambda: prepare_real_clouds(real_points, seed),
        )  # fmt: skip
        reference_embeddings = None
        if reference is not None:
            reference_embeddings = embedder(
                f"{source}_train", [data_root / modelnet_reference_file(source, "train")], len(reference),
                {"points": REFERENCE_POINTS, "protocol": REFERENCE_PROTOCOL},
                lambda: sample_reference_points(reference.points, REFERENCE_POINTS, seed),
            )  # fmt: skip
        text_encoder = TextEncoder.from_pretrained(entry, device=device, progress=progress)
        members.append(_Member(entry, real, reference_embeddings, text_encoder))
        preparations[entry.name] = embedder.preparation

    known_classes = [names[0] if len(names) == 1 else names for names in data.known.class_set.real_names().values()]
    results = {}
    for name, method in methods.items():

        def fit(detector_model, text_encoder, reference_embeddings):
            reference_arg = None
            if _uses_reference(method):
                reference_arg = (reference_embeddings, reference.labels)
                if isinstance(detector_model, list):  # an ensemble: one reference per member
                    reference_arg = [(part, reference.labels) for part in reference_embeddings]
            kind = EnsembleDetector if isinstance(detector_model, list) else NoveltyDetector
            detector = kind(method, model=detector_model, text_encoder=text_encoder, templates=templates, progress=progress)
            if "known" in method.needs:  # open_clip's bars have no title: say what they embed (nothing when cached)
                negatives = " and the LVIS names (negative labels)" if _uses_negative_labels(method) else ""
                _say(progress, f"{name}: embedding the class names{negatives}, unless cached")
            return detector.fit(known=known_classes if "known" in method.needs else None, reference=reference_arg)

        # Each model alone, then (for several) their ensemble, which takes one embedding array per member.
        scored = {m.entry.name: (fit(m.entry, m.text_encoder, m.reference), m.real) for m in members}
        if len(members) > 1:
            columns = zip(*[(m.entry, m.text_encoder, m.reference) for m in members])
            scored[model] = (fit(*(list(column) for column in columns)), [m.real for m in members])
        for label, (detector, real) in scored.items():
            novelty = detector.novelty(real)
            # Known classes are given in label order 0..C-1 and the reference holds every label,
            # so a class index is the class label.
            predicted = detector.classify(real)[data.known.indices]
            row = name if len(members) == 1 else f"{name}@{label}"
            results[row] = evaluate_novelty(
                row, *(novelty[samples.indices] for samples in sets), data.known.labels, predicted
            )

    settings = {
        "known_classes": [list(names) for names in data.known.class_set.real_names().values()],
        "unknown_1": data.unknown_1.class_set.name,
        "unknown_2": data.unknown_2.class_set.name,
        "data_root": str(data_root),
        "real_preparation": {"points": SCANOBJECTNN_POINTS, "protocol": REAL_PROTOCOL},
        "encoder_preparation": preparations[entries[0].name] if len(entries) == 1 else preparations,
        "views": views,
        "reference": None if reference is None else {
            "file": modelnet_reference_file(source, "train"), "points": REFERENCE_POINTS,
            "protocol": REFERENCE_PROTOCOL,
        },
        "device": device,
        "batch_size": batch_size,
    }  # fmt: skip
    result = BenchmarkResult(
        source, model, seed, templates, results, counts, settings, notes,
        class_counts=class_counts, count_differences=differences, provenance=provenance,
    )  # fmt: skip
    if output is not None:
        result.files = write_outputs(result, output)
    return result


class _Member(NamedTuple):
    """One shape encoder of a run: its embeddings of the real and reference clouds and its text tower."""

    entry: ModelEntry
    real: np.ndarray
    reference: np.ndarray | None
    text_encoder: TextEncoder


class _Embedder:
    """Embeddings of prepared clouds through the disk cache; the encoder is loaded on the first miss only."""

    def __init__(
        self,
        entry: ModelEntry,
        directory: Path,
        *,
        device: str,
        dtype: str,
        batch_size: int,
        seed: int,
        views: int,
        progress: bool,
    ):
        self.entry, self.directory, self.dtype = entry, directory, dtype
        self.device, self.batch_size, self.seed, self.views, self.progress = device, batch_size, seed, views, progress
        #: Encoder-side preparation (ShapeEncoder.embed's defaults), part of every cache key.
        self.preparation = {
            **preparation_settings(up_axis=DATA_UP_AXIS, model_up_axis=entry.model_up_axis, seed=seed, views=views),
            "dtype": dtype,
        }
        self._encoder: ShapeEncoder | None = None

    def __call__(self, label: str, files: list[Path], rows: int, preparation: dict, clouds) -> np.ndarray:
        """Embeddings of ``clouds()`` (called on a cache miss only), cached under ``files`` and the preparation."""
        embeddings, hit = cached_embeddings(
            self.directory, self.entry, label, files, rows=rows, compute=lambda: self._embed(label, clouds()),
            preparation={**self.preparation, **preparation},
        )  # fmt: skip
        _say(self.progress, f"{label}: {rows} embeddings {'from the cache' if hit else 'encoded and cached'}")
        return embeddings

    def _embed(self, label: str, clouds: np.ndarray) -> np.ndarray:
        if self._encoder is None:
            self._encoder = ShapeEncoder.from_pretrained(self.entry.name, device=self.device, dtype=self.dtype)
        # Batch by batch under a bar named after the data; each cloud is seeded on its own,
        # so the embeddings do not depend on how the clouds are split into calls.
        starts = range(0, len(clouds), self.batch_size)
        views = {"views": self.views} if self.views > 1 else {}  # a plain run calls embed as before
        return np.concatenate([
            self._encoder.embed(clouds[start : start + self.batch_size], up_axis=DATA_UP_AXIS,
                                batch_size=self.batch_size, seed=self.seed, progress=False, **views)
            for start in progress_bar(starts, desc=f"encoding {label}", unit="batch", progress=self.progress)
        ])  # fmt: skip


def _resolve_methods(
    methods: Sequence[str | NoveltyMethod] | None, source: str, data_root: Path
) -> tuple[dict[str, NoveltyMethod], list[str]]:
    """The methods to run by their :func:`~openshape_ood.methods.method_spec`, and any notes about the choice."""
    reference_file = data_root / modelnet_reference_file(source, "train")
    download = f"`python -m benchmarks.download --data-root {data_root} --only modelnet`"
    if methods is None:
        chosen = {name: make_method(name) for name in METHODS}
        if reference_file.is_file():
            return chosen, []
        note = (
            f"note: {reference_file} is absent, so the reference-shape methods {', '.join(REFERENCE_METHODS)} "
            f"are left out; get the ModelNet40 shapes with {download}"
        )
        return {name: method for name, method in chosen.items() if not _uses_reference(method)}, [note]
    if isinstance(methods, (str, NoveltyMethod)):
        raise ValueError(f"methods must be a list of methods, not one; wrap it: [{methods!r}]")
    objects = [method if isinstance(method, NoveltyMethod) else parse_method(method) for method in methods]
    if not objects:
        raise ValueError(f"no methods given; choose from {', '.join(METHODS)}")
    for method in objects:
        method.check_params()  # before any data is read or encoded
    chosen = {method_spec(method): method for method in objects}
    needing = [name for name, method in chosen.items() if _uses_reference(method)]
    if needing and not reference_file.is_file():
        raise FileNotFoundError(
            f"{', '.join(needing)} need the ModelNet40 reference shapes {reference_file}, which do not exist; "
            f"get them with {download}, or leave these methods out"
        )
    return chosen, []


def _uses_reference(method: NoveltyMethod) -> bool:
    return "reference" in method.needs


def _uses_negative_labels(method: NoveltyMethod) -> bool:
    """Negative labels on their own or as the text part of a fused method (which embed the LVIS names)."""
    return isinstance(getattr(method, "text", method), NegativeLabels)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr)


def _load_reference(source: str, data_root: Path) -> Samples:
    reference = load_modelnet_reference(source, "train", data_root)
    absent = sorted(set(range(reference.class_set.num_classes)) - set(reference.labels.tolist()))
    if absent:
        raise ValueError(
            f"{data_root / modelnet_reference_file(source, 'train')} has no shape of the {source} labels {absent}; "
            "the file is incomplete: download it again"
        )
    return reference


def _class_counts(samples: Samples, names: dict[int, tuple[str, ...]]) -> dict[str, int]:
    """Class name -> samples, in label order; merged classes are named ``desk+table``."""
    found = np.bincount(samples.labels, minlength=len(names))
    return {"+".join(names[label]): int(found[label]) for label in names}


def _all_real_points(data: SyntheticToReal) -> np.ndarray:
    """Every real sample in release-file order (the three sets together hold each exactly once)."""
    sets = (data.known, data.unknown_1, data.unknown_2)
    points = np.empty((sum(len(s) for s in sets), *data.known.points.shape[1:]), np.float32)
    for samples in sets:
        points[samples.indices] = samples.points
    return points


def write_outputs(result: BenchmarkResult, output: str | os.PathLike) -> list[Path]:
    """Write ``results.json`` and the figures of ``result`` into ``output``; return their paths.

    Figures, each as a 300 dpi PNG and a vector PDF: ``roc_<method>`` (the three
    comparisons of one method: its report block as curves), ``hist_<method>`` (its
    novelty scores on the known set and each unknown set: each method has its own score
    scale) and ``overview`` (every method on the reported comparison, known vs both
    unknown sets: ROC curves, and AUROC / FPR95 bars beside the summary's other rows).
    Titles name the model, and a second line its weights' hash and registry.
    """
    output = Path(output)
    text = json.dumps(result.to_json(), indent=2) + "\n"
    files = [write_bytes(output / "results.json", text.encode())]
    names = set_names(result.source)
    provenance = short_provenance(result.provenance) if result.provenance else None
    run = f"{result.source} known, {result.model}"
    for method, r in result.methods.items():
        files += plot_roc(r.novelty, r.comparisons, output / f"roc_{method}", f"{run}: {method}", names, provenance)
        files += plot_histograms(r.novelty, output / f"hist_{method}", f"{run}: {method}", names, provenance)
    overview = {method: (r.novelty, r.comparisons) for method, r in result.methods.items()}
    files += plot_overview(overview, output / "overview", f"{run}: all methods", names,
                           _other_rows(result.source), provenance)  # fmt: skip
    return files


def _other_rows(source: str) -> list[tuple[str, float, float]]:
    """The summary's published and reported rows, labelled with their source number as in the summary."""
    published = rows_for(source)
    references = list(dict.fromkeys(row.provenance for row in published))
    return [(f"{row.label} [{references.index(row.provenance) + 1}]", *row.results[source]) for row in published]


def build_parser(source: str) -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.sr1`` / ``benchmarks.sr2``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{source.lower()}",
        description=f"3DOS synthetic-to-real novelty detection with {source} as the known classes, "
        "OpenShape embeddings, no fine-tuning.",
    )
    parser.add_argument(
        "--model", required=True,
        help="registered shape encoder: vitb32, vitl14, vitg14, ...; several joined by + (vitb32+vitl14+vitg14) "
        "also run their ensemble",
    )  # fmt: skip
    parser.add_argument(
        "--data-root", type=Path, default=DEFAULT_DATA_ROOT,
        help=f"3DOS release root (default: ./{DEFAULT_DATA_ROOT}; fetch it with python -m benchmarks.download)",
    )  # fmt: skip
    parser.add_argument(
        "--methods", nargs="+", metavar="METHOD",
        help=f"methods, space- or comma-separated, from {', '.join(METHODS)}, each with keyword parameters "
        "if wanted: 'mcm(temperature=0.01)' (default: every method with its defaults, the reference-shape "
        "ones when the ModelNet40 file is present)",
    )  # fmt: skip
    parser.add_argument("--templates", choices=sorted(TEMPLATE_SETS), default="openshape64",
                        help="prompt templates of the text methods (default: openshape64)")  # fmt: skip
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--batch-size", type=int, default=16, help="clouds per forward pass (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of permutations and resampling (default: 0)")
    parser.add_argument("--views", type=int, default=1, help="test-time views per cloud, averaged (default: 1)")
    parser.add_argument("--output", type=Path,
                        help=f"output folder (default: {DEFAULT_OUTPUT}/{source.lower()}-MODEL, which git ignores)")
    parser.add_argument("--cache-dir", type=Path, help="embedding cache (default: $OPENSHAPE_OOD_CACHE/embeddings)")
    add_dtype_option(parser, default=DEFAULT_DTYPE)
    add_progress_options(parser)
    return parser


def main(source: str, argv: Sequence[str] | None = None) -> int:
    """Command line entry point of the ``source`` benchmark; returns the exit status.

    Expected failures (missing or damaged data, unknown model, a checkpoint that cannot
    be fetched, an interruption) are one line on stderr prefixed with the program name.
    """
    parser = build_parser(source)
    args = parser.parse_args(argv)
    methods = None if args.methods is None else [m for item in args.methods for m in _split_methods(item)]
    output = args.output or Path(DEFAULT_OUTPUT) / f"{source.lower()}-{args.model}"
    with warnings.catch_warnings():
        # One line per warning (a stale cache entry, say), above any progress bar.
        warnings.showwarning = lambda message, *_, **__: tqdm.write(f"{parser.prog}: warning: {message}", sys.stderr)
        try:
            result = run_benchmark(
                source, args.model, data_root=args.data_root, methods=methods, templates=args.templates,
                device=args.device, batch_size=args.batch_size, seed=args.seed, views=args.views, dtype=args.dtype, output=output,
                cache_dir=args.cache_dir, progress=progress_wanted(args),
            )  # fmt: skip
        except KeyboardInterrupt:
            error(parser, "interrupted; the embeddings finished so far are cached and a rerun reuses them")
            return 130
        except (OSError, ValueError, UnknownModelError, CheckpointError) as failure:
            error(parser, failure)
            return 1
    print(result.counts_report(), result.report(), result.summary(), f"wrote {len(result.files)} files to {output}",
          sep="\n\n")  # fmt: skip
    return 0


def _split_methods(text: str) -> list[str]:
    """``"knn,mcm(temperature=0.01)"`` -> ``["knn", "mcm(temperature=0.01)"]``: commas inside brackets stay."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]
