"""The checkpoint registry: which shape encoders exist and where their weights live.

All registry data sits in ``checkpoints.toml`` (shipped inside the package); this module
only reads and validates it. Each entry names its encoder family (``family``: OpenShape
PointBERT by default, or ``"uni3d"``), whose architecture table it holds, and may state the
licences of the model's code and weights (``[name.licence]``). ``OPENSHAPE_OOD_REGISTRY`` names your own TOML files
(several separated by ``os.pathsep``): their entries are added to the packaged ones, and
an entry with a packaged name replaces it, as ``open_clip.add_model_config`` does. Use it
to register your own checkpoints or local copies of the released ones. A local copy takes
two lines: an entry that ``extends`` an earlier one (a packaged model, or one defined before
it) takes everything from it but its own ``path`` (and ``sha256``, ``size``, ``description``)::

    [vitb32]
    extends = "vitb32"
    path = "/data/models/openshape-vitb32.pt"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..config import FAMILIES, UP_AXES, PointBertConfig, Uni3DConfig

__all__ = [
    "DEFAULT_FAMILY",
    "REGISTRY_ENV",
    "HubSource",
    "Licences",
    "LocalSource",
    "ModelEntry",
    "UnknownModelError",
    "get_entry",
    "load_registry",
    "model_entry",
    "packaged_registry_path",
    "registry_paths",
]

REGISTRY_ENV = "OPENSHAPE_OOD_REGISTRY"
#: The keys an entry with ``extends`` may set: it is a copy of another entry's weights elsewhere.
EXTENDS_KEYS = ("extends", "path", "sha256", "size", "description")
#: The family of an entry that names none: the registry's first family, OpenShape PointBERT.
DEFAULT_FAMILY = "openshape-pointbert"
#: The keys of an entry's ``[name.licence]`` table.
LICENCE_KEYS = ("code", "code_source", "weights", "weights_source")


class UnknownModelError(KeyError):
    """No registry entry has the name asked for; the message lists the registered names.

    A ``KeyError`` (a registry is a mapping), whose ``str`` is the message itself rather
    than its quoted ``repr``.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class HubSource:
    """Weights stored in a Hugging Face Hub model repository."""

    repo_id: str
    filename: str
    revision: str | None = None


@dataclass(frozen=True)
class LocalSource:
    """Weights stored in a local file."""

    path: Path


@dataclass(frozen=True)
class Licences:
    """The licences of a model's code and weights, and where each is stated (``[name.licence]``).

    Attributes:
        code, weights: the licence (``"MIT"``), or what is known instead
            (``"none stated"``); ``None`` when the registry does not say.
        code_source, weights_source: where that is stated (or where it was looked for).
    """

    code: str | None = None
    code_source: str | None = None
    weights: str | None = None
    weights_source: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One registered shape encoder.

    Attributes:
        name: registry key, e.g. ``"vitl14"``.
        source: where the checkpoint file lives.
        sha256: expected SHA-256 of the checkpoint file (checked before unpickling),
            or ``None`` to skip the check (local entries only).
        size: expected size in bytes, or ``None``.
        container: ``"flat"``, or the top-level key holding the encoder weights.
        prefix: key prefix of the encoder weights inside the container (stripped); ``None``
            strips a leading ``module.`` when the keys carry one, as upstream Uni3D does.
        family: the encoder family (a key of :data:`~openshape_ood.config.FAMILIES`:
            ``"openshape-pointbert"`` or ``"uni3d"``); ``config`` is of that family's type.
        config: architecture hyperparameters.
        model_up_axis: gravity axis the model was trained with (``up_axis`` in the TOML
            file); the data's own axis is a separate argument of ``ShapeEncoder.embed``.
        text_model: open_clip architecture of the paired text tower.
        text_pretrained: its open_clip pretrained tag, or the path of a local weights file.
        text_is_file: whether ``text_pretrained`` is a local file rather than a tag.
        text_config: an open_clip model-config JSON defining ``text_model`` (for towers that
            open_clip does not ship), or ``None``.
        text_hf_repo: the Hub repository open_clip downloads the ``text_pretrained`` tag
            from, so that ``openshape-ood models`` can tell whether it is cached without
            importing open_clip; ``None`` when not given (or the weights are a local file).
        text_size: the download size of the text tower's weights in bytes (``size`` in
            ``[name.text]``), for people deciding what to fetch; ``None`` when unknown.
        description: one line for humans.
        registry_file: the registry file the entry was read from (provenance: a result made
            with an entry from a user registry must say so).
        licences: the code and weight licences (``[name.licence]``); unknown fields ``None``.
    """

    name: str
    source: HubSource | LocalSource
    sha256: str | None
    size: int | None
    container: str
    prefix: str | None
    config: PointBertConfig | Uni3DConfig
    model_up_axis: str
    text_model: str
    text_pretrained: str
    text_is_file: bool = False
    text_config: Path | None = None
    text_hf_repo: str | None = None
    text_size: int | None = None
    description: str = ""
    registry_file: Path | None = None
    family: str = DEFAULT_FAMILY
    licences: Licences = Licences()

    @property
    def embed_dim(self) -> int:
        """Width of the embeddings the encoder outputs."""
        return self.config.embed_dim


def packaged_registry_path() -> Path:
    """The ``checkpoints.toml`` shipped inside the package."""
    return Path(str(resources.files("openshape_ood") / "checkpoints.toml"))


def registry_paths() -> list[Path]:
    """The registry files in use, later ones overriding earlier ones: the packaged file, then
    those in ``$OPENSHAPE_OOD_REGISTRY`` (separated by ``os.pathsep``).
    """
    user = [Path(part).expanduser() for part in os.environ.get(REGISTRY_ENV, "").split(os.pathsep) if part]
    return [packaged_registry_path(), *user]


def load_registry(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Read and validate the registry.

    Args:
        path: one registry file to read on its own (its ``extends`` may name packaged
            entries); ``None`` reads :func:`registry_paths`, each file's entries added to
            (or replacing) the earlier ones.
    """
    if path is not None:
        path = Path(path)
        packaged = packaged_registry_path()
        base = {} if path.resolve() == packaged.resolve() else _read_registry(packaged, {})
        return _read_registry(path, base)
    registry: dict[str, ModelEntry] = {}
    for registry_file in registry_paths():
        registry.update(_read_registry(registry_file, registry))
    return registry


def _read_registry(path: Path, earlier: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
    """The entries of one file; an entry's ``extends`` names one of ``earlier`` or one defined before it."""
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"checkpoint registry {path} does not exist; fix or unset {REGISTRY_ENV} (your TOML files, "
            f"separated by {os.pathsep!r})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"checkpoint registry {path} is not valid TOML: {exc}") from None
    entries: dict[str, ModelEntry] = {}
    for name, table in raw.items():
        if "extends" in table:
            entries[name] = _extend_entry(name, table, path, {**earlier, **entries})
        else:
            entries[name] = _parse_entry(name, table, path)
    return entries


def _extend_entry(name: str, table: dict, registry_file: Path, known: dict[str, ModelEntry]) -> ModelEntry:
    """An entry that ``extends`` another: its weights at ``path``, everything else from the other entry.

    The other entry's ``sha256`` and ``size`` stay (a copy has the same bytes) unless a
    ``sha256`` is given, which then goes with the given ``size`` or none.
    """
    where = f"registry {registry_file}: entry [{name}]"
    base_name = table["extends"]
    if base_name not in known:
        raise ValueError(
            f"{where} extends {base_name!r}, which no earlier entry defines; registered: {', '.join(sorted(known))}"
        )
    others = sorted(set(table) - set(EXTENDS_KEYS))
    if others:
        raise ValueError(
            f"{where} extends {base_name!r} and may set only {', '.join(EXTENDS_KEYS[1:])}, not {', '.join(others)}; "
            f"for other changes write a whole entry without 'extends'"
        )
    if "path" not in table:
        raise ValueError(f"{where} extends {base_name!r} but lacks required key 'path' (path = \"/your/copy.pt\")")
    base = known[base_name]
    own_hash = "sha256" in table
    return replace(
        base,
        name=name,
        source=LocalSource(_relative_to(registry_file, table["path"])),
        sha256=str(table["sha256"]).lower() if own_hash else base.sha256,
        size=table.get("size") if own_hash else table.get("size", base.size),
        description=table.get("description", base.description),
        registry_file=registry_file,
    )


def get_entry(name: str, path: str | os.PathLike | None = None) -> ModelEntry:
    """The registry entry called ``name``; an :class:`UnknownModelError` lists the known names otherwise."""
    registry = load_registry(path)
    if name not in registry:
        raise UnknownModelError(f"unknown model {name!r}; registered models: {', '.join(sorted(registry))}")
    return registry[name]


def model_entry(model) -> ModelEntry:
    """The registry entry of ``model``: a registry name, a :class:`ModelEntry`, or a shape encoder (its ``.entry``)."""
    if isinstance(model, str):
        return get_entry(model)
    if isinstance(model, ModelEntry):
        return model
    entry = getattr(model, "entry", None)
    if not isinstance(entry, ModelEntry):
        raise ValueError(
            f"cannot find the registry entry of model {model!r}; pass a registry name such as 'vitl14', "
            "or text_encoder= explicitly"
        )
    return entry


def _parse_entry(name: str, table: dict, registry_file: Path) -> ModelEntry:
    def need(key: str, where: dict = table, label: str = name):
        if key not in where:
            raise ValueError(
                f"registry {registry_file}: entry [{label}] lacks required key {key!r}. A local copy of a "
                f'packaged model needs only two lines: extends = "vitb32" (or vitl14, vitg14) and '
                f'path = "/your/copy.pt"'
            )
        return where[key]

    if "path" in table and "hf_repo" in table:
        raise ValueError(f"registry {registry_file}: entry [{name}] names both 'path' and 'hf_repo'; keep one")
    if "path" in table:
        source: HubSource | LocalSource = LocalSource(_relative_to(registry_file, table["path"]))
    else:
        source = HubSource(need("hf_repo"), need("filename"), table.get("revision"))
        if "sha256" not in table:
            raise ValueError(f"registry {registry_file}: Hub entry [{name}] needs a sha256 to verify downloads")

    family = table.get("family", DEFAULT_FAMILY)
    if family not in FAMILIES:
        raise ValueError(
            f"registry {registry_file}: entry [{name}] has family {family!r}; use one of {', '.join(FAMILIES)}"
        )
    try:
        config = FAMILIES[family].from_dict(need("architecture"))
    except ValueError as exc:
        raise ValueError(f"registry {registry_file}: [{name}.architecture] ({family}): {exc}") from None
    licence = table.get("licence", {})
    unknown = sorted(set(licence) - set(LICENCE_KEYS))
    if unknown:
        raise ValueError(
            f"registry {registry_file}: [{name}.licence] has unknown keys {unknown}; use {', '.join(LICENCE_KEYS)}"
        )
    embed_dim = table.get("embed_dim", config.embed_dim)
    if embed_dim != config.embed_dim:
        raise ValueError(
            f"registry {registry_file}: entry [{name}] says embed_dim = {embed_dim} but its "
            f"architecture outputs {config.embed_dim}"
        )
    model_up_axis = str(need("up_axis")).lower()
    if model_up_axis not in UP_AXES:
        raise ValueError(
            f"registry {registry_file}: entry [{name}] has up_axis {model_up_axis!r}; use one of {UP_AXES}"
        )
    text = need("text")
    text_label = f"{name}.text"
    if ("pretrained" in text) == ("path" in text):
        raise ValueError(
            f"registry {registry_file}: [{text_label}] needs exactly one of 'pretrained' (an open_clip tag) "
            f"or 'path' (a local weights file)"
        )
    text_pretrained = text["pretrained"] if "pretrained" in text else str(_relative_to(registry_file, text["path"]))
    text_config = _relative_to(registry_file, text["config"]) if "config" in text else None
    text_model = need("model", text, text_label)
    if text_config is not None and text_config.stem != text_model:
        raise ValueError(
            f"registry {registry_file}: [{text_label}] config file {text_config.name} must be named "
            f"{text_model}.json (open_clip registers a config under its file name)"
        )
    sha256 = table.get("sha256")
    return ModelEntry(
        name=name,
        source=source,
        sha256=sha256.lower() if sha256 else None,
        size=table.get("size"),
        container=table.get("container", "flat"),
        prefix=table.get("prefix", "" if family == DEFAULT_FAMILY else None),
        config=config,
        model_up_axis=model_up_axis,
        text_model=text_model,
        text_pretrained=text_pretrained,
        text_is_file="path" in text,
        text_config=text_config,
        text_hf_repo=text.get("hf_repo"),
        text_size=text.get("size"),
        description=table.get("description", ""),
        registry_file=registry_file,
        family=family,
        licences=Licences(**{key: str(value) for key, value in licence.items()}),
    )


def _relative_to(registry_file: Path, value: str) -> Path:
    """A path from the registry: absolute, ``~``-expanded, or relative to the registry file."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else registry_file.parent / path
