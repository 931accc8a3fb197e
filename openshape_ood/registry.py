"""The checkpoint registry: which shape encoders exist and where their weights live.

All registry data sits in ``checkpoints.toml`` (shipped with the package); this module
only reads and validates it. Point ``OPENSHAPE_OOD_REGISTRY`` at another TOML file to
replace it, for instance to register your own checkpoints or local copies.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .model import PointBertConfig

REGISTRY_ENV = "OPENSHAPE_OOD_REGISTRY"
UP_AXES = ("x", "y", "z")


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
class ModelEntry:
    """One registered shape encoder.

    Attributes:
        name: registry key, e.g. ``"vitl14"``.
        source: where the checkpoint file lives.
        sha256: expected SHA-256 of the checkpoint file (checked before unpickling),
            or ``None`` to skip the check (local entries only).
        size: expected size in bytes, or ``None``.
        container: ``"flat"``, or the top-level key holding the encoder weights.
        prefix: key prefix of the encoder weights inside the container (stripped).
        config: architecture hyperparameters.
        up_axis: gravity axis the model was trained with.
        text_model: open_clip architecture of the paired text tower.
        text_pretrained: its open_clip pretrained tag, or the path of a local weights file.
        text_config: an open_clip model-config JSON defining ``text_model`` (for towers that
            open_clip does not ship), or ``None``.
        description: one line for humans.
    """

    name: str
    source: HubSource | LocalSource
    sha256: str | None
    size: int | None
    container: str
    prefix: str
    config: PointBertConfig
    up_axis: str
    text_model: str
    text_pretrained: str
    text_config: Path | None = None
    description: str = ""

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim


def registry_path() -> Path:
    """The registry file in use: ``$OPENSHAPE_OOD_REGISTRY`` or the packaged ``checkpoints.toml``."""
    override = os.environ.get(REGISTRY_ENV)
    if override:
        return Path(override).expanduser()
    return Path(str(resources.files("openshape_ood") / "checkpoints.toml"))


def load_registry(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Read and validate a registry file (default: :func:`registry_path`)."""
    path = Path(path) if path is not None else registry_path()
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"checkpoint registry {path} does not exist; unset {REGISTRY_ENV} or point it at a TOML file"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"checkpoint registry {path} is not valid TOML: {exc}") from None
    return {name: _parse_entry(name, table, path) for name, table in raw.items()}


def get_entry(name: str, path: str | os.PathLike | None = None) -> ModelEntry:
    """The registry entry called ``name``; a ``KeyError`` lists the known names otherwise."""
    registry = load_registry(path)
    if name not in registry:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(registry))}")
    return registry[name]


def _parse_entry(name: str, table: dict, registry_file: Path) -> ModelEntry:
    def need(key: str, where: dict = table, label: str = name):
        if key not in where:
            raise ValueError(f"registry {registry_file}: entry [{label}] lacks required key {key!r}")
        return where[key]

    if "path" in table and "hf_repo" in table:
        raise ValueError(f"registry {registry_file}: entry [{name}] names both 'path' and 'hf_repo'; keep one")
    if "path" in table:
        source: HubSource | LocalSource = LocalSource(_relative_to(registry_file, table["path"]))
    else:
        source = HubSource(need("hf_repo"), need("filename"), table.get("revision"))
        if "sha256" not in table:
            raise ValueError(f"registry {registry_file}: Hub entry [{name}] needs a sha256 to verify downloads")

    config = PointBertConfig.from_dict(need("architecture"))
    embed_dim = table.get("embed_dim", config.embed_dim)
    if embed_dim != config.embed_dim:
        raise ValueError(
            f"registry {registry_file}: entry [{name}] says embed_dim = {embed_dim} but its "
            f"architecture outputs {config.embed_dim}"
        )
    up_axis = str(need("up_axis")).lower()
    if up_axis not in UP_AXES:
        raise ValueError(f"registry {registry_file}: entry [{name}] has up_axis {up_axis!r}; use one of {UP_AXES}")
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
        prefix=table.get("prefix", ""),
        config=config,
        up_axis=up_axis,
        text_model=text_model,
        text_pretrained=text_pretrained,
        text_config=text_config,
        description=table.get("description", ""),
    )


def _relative_to(registry_file: Path, value: str) -> Path:
    """A path from the registry: absolute, ``~``-expanded, or relative to the registry file."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else registry_file.parent / path
