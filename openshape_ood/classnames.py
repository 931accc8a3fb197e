"""Class names and the prompts they are spoken in: templates, the LVIS vocabulary, name checks.

Plain Python (no torch): the detector, the novelty methods and the command line read
names through here; :mod:`openshape_ood.encoders.text` turns them into CLIP text embeddings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from importlib import resources

__all__ = [
    "OPENSHAPE_TEMPLATES",
    "TEMPLATE_SETS",
    "check_class_names",
    "is_class_names",
    "lvis_categories",
    "resolve_templates",
    "spoken_name",
]

# The 64 prompt templates of the OpenShape benchmarks, verbatim (one lacks its full stop upstream).
OPENSHAPE_TEMPLATES: tuple[str, ...] = (
    "a point cloud model of {}.",
    "There is a {} in the scene.",
    "There is the {} in the scene.",
    "a photo of a {} in the scene.",
    "a photo of the {} in the scene.",
    "a photo of one {} in the scene.",
    "itap of a {}.",
    "itap of my {}.",
    "itap of the {}.",
    "a photo of a {}.",
    "a photo of my {}.",
    "a photo of the {}.",
    "a photo of one {}.",
    "a photo of many {}.",
    "a good photo of a {}.",
    "a good photo of the {}.",
    "a bad photo of a {}.",
    "a bad photo of the {}.",
    "a photo of a nice {}.",
    "a photo of the nice {}.",
    "a photo of a cool {}.",
    "a photo of the cool {}.",
    "a photo of a weird {}.",
    "a photo of the weird {}.",
    "a photo of a small {}.",
    "a photo of the small {}.",
    "a photo of a large {}.",
    "a photo of the large {}.",
    "a photo of a clean {}.",
    "a photo of the clean {}.",
    "a photo of a dirty {}.",
    "a photo of the dirty {}.",
    "a bright photo of a {}.",
    "a bright photo of the {}.",
    "a dark photo of a {}.",
    "a dark photo of the {}.",
    "a photo of a hard to see {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of a {}.",
    "a low resolution photo of the {}.",
    "a cropped photo of a {}.",
    "a cropped photo of the {}.",
    "a close-up photo of a {}.",
    "a close-up photo of the {}.",
    "a jpeg corrupted photo of a {}.",
    "a jpeg corrupted photo of the {}.",
    "a blurry photo of a {}.",
    "a blurry photo of the {}.",
    "a pixelated photo of a {}.",
    "a pixelated photo of the {}.",
    "a black and white photo of the {}.",
    "a black and white photo of a {}",
    "a plastic {}.",
    "the plastic {}.",
    "a toy {}.",
    "the toy {}.",
    "a plushie {}.",
    "the plushie {}.",
    "a cartoon {}.",
    "the cartoon {}.",
    "an embroidered {}.",
    "the embroidered {}.",
    "a painting of the {}.",
    "a painting of a {}.",
)

#: Named template sets for :meth:`TextEncoder.embed_classes`. ``"none"`` speaks the bare name,
#: as the OpenShape demo does for custom categories.
TEMPLATE_SETS: dict[str, tuple[str, ...]] = {"openshape64": OPENSHAPE_TEMPLATES, "none": ("{}",)}


def lvis_categories() -> tuple[str, ...]:
    """The 1,156 Objaverse-LVIS category names (underscores as in the source), an open vocabulary."""
    text = resources.files("openshape_ood").joinpath("data/lvis_categories.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def spoken_name(name: str) -> str:
    """The words a class name is spoken as in a prompt: underscores become spaces."""
    return " ".join(name.replace("_", " ").split())


def is_class_names(value) -> bool:
    """Whether ``value`` reads as known classes by name: names, or entries that are a name or a list/tuple of
    names (one class each). An empty list counts, so that it gets the "empty class list" error."""
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, str) or _is_name_list(v) for v in value)
    )


def _is_name_list(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def check_class_names(names: Sequence[str], what: str = "class names") -> list[str]:
    """Validate a list of class names and return it as a list.

    Raises ``ValueError`` for a bare string, an empty list, blank names, or names that are
    the same once spoken (case and underscores ignored): such classes could not be told apart.
    """
    if isinstance(names, (str, bytes)):
        raise ValueError(f"{what} must be a list of strings, not one string; wrap it: [{names!r}]")
    names = list(names)
    if not names:
        raise ValueError(f"{what} is empty; pass at least one class name")
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"{what} must all be strings; got {sorted({type(n).__name__ for n in names})}")
    blank = [name for name in names if not spoken_name(name)]
    if blank:
        raise ValueError(f"{what} contain {len(blank)} blank name(s); remove them")
    counts = Counter(spoken_name(name).casefold() for name in names)
    duplicates = sorted({name for name in names if counts[spoken_name(name).casefold()] > 1})
    if duplicates:
        raise ValueError(f"duplicate {what} {duplicates} (case and underscores ignored); keep each class once")
    return names


def resolve_templates(templates: str | Sequence[str]) -> tuple[str, ...]:
    """A template set name (see :data:`TEMPLATE_SETS`) or a list of ``str.format`` templates with one ``{}``."""
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(
                f"unknown template set {templates!r}; use one of {sorted(TEMPLATE_SETS)} "
                "or a list of templates such as ['a point cloud of a {}.']"
            )
        return TEMPLATE_SETS[templates]
    if not isinstance(templates, (list, tuple)):
        raise ValueError(
            f"templates must be a template set name ({', '.join(sorted(TEMPLATE_SETS))}) or a list of templates; "
            f"got a {type(templates).__name__}"
        )
    templates = tuple(templates)
    if not templates:
        raise ValueError("templates is empty; pass 'openshape64', 'none' or a non-empty list of templates")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"template {template!r} must be a string with exactly one '{{}}' for the class name")
        try:
            template.format("x")
        except (IndexError, KeyError, ValueError):
            raise ValueError(
                f"template {template!r} has other braces; escape literal braces as '{{{{' and '}}}}'"
            ) from None
    return templates
