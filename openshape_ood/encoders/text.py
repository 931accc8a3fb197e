"""Class names to CLIP text embeddings, paired with each OpenShape shape encoder.

A :class:`TextEncoder` holds only the text tower of an open_clip model (the image tower is
never built: for ViT-bigG-14 it alone has 1.8B parameters). Weights come from open_clip's
own pretrained download (Hugging Face Hub cache) or from a local checkpoint file, and are
read lazily: only the text tensors of the file are touched. Class embeddings are cached on
disk, so a second run with the same model, weights and prompts does not load CLIP at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from ..atomic import write_bytes
from ._cache import default_cache_dir, embedding_problem, file_identity, keyed_cache_path, read_cache_file, save_tensors
from ..classnames import check_class_names, resolve_templates, spoken_name
from ..device import resolve_device
from ._hub import OPEN_CLIP_WEIGHTS, TEXT_ADVICE, cached_file, ensure_reachable, verify_hub_blob
from ..progress import progress_bar
from ._registry import ModelEntry, get_entry

__all__ = ["TextEncoder"]

#: Class names per forward pass (times the number of templates), as open_clip's classifier builder batches them.
_NAMES_PER_BATCH = 10


class TextEncoder:
    """The text tower of an open_clip model, embedding class names into the shape encoders' space.

    Args:
        model_name: open_clip architecture name, e.g. ``"ViT-L-14"``.
        pretrained: an open_clip pretrained tag for that architecture (e.g. ``"openai"``),
            a local checkpoint file (``.safetensors``, or a torch zip file read with
            ``weights_only=True``), or ``None`` for random weights (never cached).
        device: where the tower runs; ``None`` picks CUDA when available, else CPU.
        cache_dir: folder of the embedding cache; ``None`` for :func:`default_cache_dir`.
        cache: set ``False`` to neither read nor write the cache.
        progress: show a progress bar on stderr while embedding class names; ``None``: when
            stderr is a terminal (or this runs in Jupyter).

    The tower is loaded on first use, not at construction. Tags whose weights were trained
    with QuickGELU (the OpenAI ones) get QuickGELU, as open_clip's pretrained table says; a
    bare ``create_model("ViT-L-14", "openai")`` would use GELU and only warn.
    """

    def __init__(
        self,
        model_name: str,
        pretrained: str | os.PathLike | None = None,
        *,
        device: str | torch.device | None = "cpu",
        cache_dir: str | os.PathLike | None = None,
        cache: bool = True,
        progress: bool | None = None,
    ):
        self.model_name = model_name
        self.device = resolve_device(device)
        self.progress = progress
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        facts = _tower_facts(model_name, pretrained, self.cache_dir if cache else None)
        self.embed_dim: int = facts["embed_dim"]
        self.pretrained = facts["pretrained"]
        self.quick_gelu = facts["quick_gelu"]
        is_file = self.pretrained is not None and facts["weights_id"] is None
        self._weights_id = file_identity(self.pretrained) if is_file else facts["weights_id"]
        self.cache = cache and self._weights_id is not None
        self._tower: torch.nn.Module | None = None
        self._tokenizer = None

    @classmethod
    def from_pretrained(cls, model: str | ModelEntry, **kwargs) -> TextEncoder:
        """The text tower paired with a registered shape encoder (``"vitb32"``, ``"vitl14"``, ``"vitg14"``).

        Reads ``[name.text]`` (``model``, ``pretrained`` tag or local ``path``, optional
        open_clip ``config``) from the checkpoint registry; ``kwargs`` go to the constructor.
        """
        entry = get_entry(model) if isinstance(model, str) else model
        if not isinstance(entry, ModelEntry):
            raise ValueError(f"model must be a registry name or a ModelEntry, not {type(model).__name__}")
        if entry.text_config is not None:
            if not entry.text_config.is_file():
                raise FileNotFoundError(f"open_clip config {entry.text_config} of [{entry.name}.text] does not exist")
            import open_clip

            open_clip.add_model_config(entry.text_config)
        return cls(entry.text_model, entry.text_pretrained, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self.model_name!r}, pretrained={self.pretrained!r})"

    @property
    def module(self) -> torch.nn.Module:
        """The text tower (an open_clip ``TextTransformer``), loaded on first access."""
        if self._tower is None:
            self._tower = self._load_tower()
        return self._tower

    @property
    def tokenizer(self):
        """open_clip's tokenizer for this architecture."""
        if self._tokenizer is None:
            import open_clip

            self._tokenizer = open_clip.get_tokenizer(self.model_name)
        return self._tokenizer

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Token ids ``[B, L]`` -> text features ``[B, embed_dim]``, as open_clip's ``encode_text``."""
        with torch.no_grad():
            features = self.module(tokens.to(self.device))
        return torch.nn.functional.normalize(features, dim=-1) if normalize else features

    def embed_classes(self, names: Sequence[str], templates: str | Sequence[str] = "openshape64") -> np.ndarray:
        """L2-normalised class embeddings ``(C, embed_dim)`` float32, one row per name, in order.

        Each name is spoken with underscores as spaces and put into every template; the
        template embeddings are L2-normalised, averaged and L2-normalised again (open_clip's
        ``build_zero_shot_classifier``). ``templates``: ``"openshape64"`` (the 64 OpenShape
        prompts), ``"none"`` (the bare name) or a list of templates with one ``{}``.
        Embeddings found in the disk cache are not recomputed.
        """
        names = check_class_names(names)
        templates = resolve_templates(templates)
        spoken = [spoken_name(name) for name in names]
        keys = [_prompt_key([template.format(words) for template in templates]) for words in spoken]
        store = _CacheFile(self._cache_path(), self._cache_identity(), self.embed_dim) if self.cache else None
        found = store.read() if store is not None else {}
        missing = list(dict.fromkeys(key for key in keys if key not in found))
        if missing:
            import open_clip  # only now: a cache hit needs none of it (seconds to import)

            words_of = dict(zip(keys, spoken))
            self.module  # load the tower before the bar starts
            label = f"Embedding class names ({self.model_name})"
            with progress_bar(total=len(missing), desc=label, unit="name", progress=self.progress) as bar:
                for start in range(0, len(missing), _NAMES_PER_BATCH):
                    batch = missing[start : start + _NAMES_PER_BATCH]
                    weights = open_clip.build_zero_shot_classifier(
                        self, self.tokenizer, [words_of[key] for key in batch], templates, device=self.device, use_tqdm=False
                    )
                    found.update(zip(batch, weights.T.float().cpu().numpy()))
                    bar.update(len(batch))
            if store is not None:
                store.write(found)
        return np.stack([found[key] for key in keys]).astype(np.float32)

    def _cache_identity(self) -> dict[str, str]:
        return {"model": self.model_name, "weights": str(self._weights_id), "quick_gelu": str(self.quick_gelu)}

    def _cache_path(self) -> Path:
        return keyed_cache_path(self.cache_dir / "text", self.model_name, self._cache_identity())

    def _load_tower(self) -> torch.nn.Module:
        import open_clip
        from open_clip.model import _build_text_tower  # the builder CustomTextCLIP uses for its text tower

        text_config = dict(open_clip.get_model_config(self.model_name)["text_cfg"])
        if "hf_model_name" in text_config:
            # Hugging Face text towers would otherwise fetch their base weights before ours overwrite them.
            text_config["hf_model_pretrained"] = self.pretrained is None
        path = self.pretrained  # found (or found missing) before the tower is built: that takes a while
        if path is not None and not Path(path).is_file():
            path = _download_tag(self.model_name, path)
        tower = _build_text_tower(self.embed_dim, text_config, quick_gelu=self.quick_gelu)
        if path is not None:
            _load_text_weights(tower, path)
        return tower.to(self.device).eval().requires_grad_(False)


def _download_tag(model_name: str, tag: str) -> str:
    """The weights file of an open_clip pretrained tag: from the Hub cache, else downloaded by open_clip.

    Without the file in the cache, an unreachable Hub (or ``HF_HUB_OFFLINE``) fails at once
    with one line, instead of open_clip's retried and repeated download errors.
    """
    import open_clip

    config = open_clip.get_pretrained_cfg(model_name, tag)
    what = f"the {model_name} text tower's weights ({tag!r})"
    repo_id, filename = os.path.split(config.get("hf_hub", ""))
    if repo_id:
        candidates = [filename] if filename else list(OPEN_CLIP_WEIGHTS)
        found = cached_file(repo_id, candidates)
        if found is not None:  # open_clip would ask the Hub for a newer revision first, retrying when offline
            return str(found)
        ensure_reachable(what, f"{repo_id} ({', '.join(candidates)})", TEXT_ADVICE)
    try:
        return open_clip.download_pretrained(config)
    except Exception as exc:  # noqa: BLE001 - open_clip wraps every Hub or URL failure differently
        raise OSError(f"could not download {what}: {exc}. {TEXT_ADVICE}") from None


def _tower_facts(model_name: str, pretrained: str | os.PathLike | None, cache_dir: Path | None) -> dict:
    """What a text encoder needs to know of its tower before embedding: width, weights, activation.

    ``{"embed_dim", "pretrained", "quick_gelu", "weights_id"}`` (``pretrained`` a tag or a
    resolved file path; ``weights_id`` ``None`` for a file, whose identity is taken afresh).
    The answer comes from open_clip's tables, which take seconds to import (torch, timm), and
    is remembered beside the embedding cache (``text-towers.json``, keyed by open_clip's
    version): a later run whose class embeddings are all cached never imports open_clip.
    Once open_clip is imported (a custom model config registered, say) its tables are asked
    again, so a remembered answer never outlives a change of config. ``cache_dir`` ``None``:
    nothing is read or written (the encoder's ``cache=False``), nor for random weights (never cached).
    """
    resolved = str(Path(pretrained).expanduser().resolve()) if _is_file(pretrained) else pretrained
    if cache_dir is None or pretrained is None:
        return _open_clip_facts(model_name, pretrained, resolved)
    memo_path = cache_dir / "text-towers.json"
    key = json.dumps([_open_clip_version(), model_name, None if resolved is None else str(resolved)])
    memo = _read_memo(memo_path)
    if sys.modules.get("open_clip") is None and key in memo:  # not imported (or its import blocked)
        return memo[key]
    facts = _open_clip_facts(model_name, pretrained, resolved)
    if memo.get(key) != facts:
        try:
            write_bytes(memo_path, json.dumps({**memo, key: facts}, indent=1).encode())
        except OSError as exc:  # a read-only cache folder: the next run imports open_clip again, that is all
            warnings.warn(f"could not remember the text tower's settings in {memo_path}: {exc}", stacklevel=4)
    return facts


def _open_clip_facts(model_name: str, pretrained: str | os.PathLike | None, resolved: str | None) -> dict:
    """:func:`_tower_facts` from open_clip's tables; a ``ValueError`` for an unknown model or tag."""
    import open_clip

    config = open_clip.get_model_config(model_name)
    if config is None:
        raise ValueError(f"unknown open_clip model {model_name!r}; see open_clip.list_models() for the names")
    facts = {"embed_dim": int(config["embed_dim"]), "pretrained": None, "quick_gelu": bool(config.get("quick_gelu", False)),
             "weights_id": None}  # fmt: skip
    if pretrained is None:
        return facts
    if open_clip.is_pretrained_cfg(model_name, str(pretrained)):
        tag_config = open_clip.get_pretrained_cfg(model_name, str(pretrained))
        source = tag_config.get("hf_hub") or tag_config.get("url", "")
        return facts | {
            "pretrained": str(pretrained),
            "quick_gelu": facts["quick_gelu"] or bool(tag_config.get("quick_gelu", False)),
            "weights_id": f"tag:{pretrained}:{source}",
        }
    if resolved is not None and Path(resolved).is_file():
        return facts | {"pretrained": resolved}
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    raise ValueError(
        f"pretrained {str(pretrained)!r} is neither an open_clip tag for {model_name} "
        f"(known tags: {tags}) nor an existing file; pass one of those, or None for random weights"
    )


def _is_file(pretrained: str | os.PathLike | None) -> bool:
    return pretrained is not None and Path(pretrained).expanduser().is_file()


def _open_clip_version() -> str:
    try:
        return version("open_clip_torch")
    except PackageNotFoundError:
        return "unknown"


def _read_memo(path: Path) -> dict[str, dict]:
    """The remembered tower facts; ``{}`` when missing or not what :func:`_tower_facts` writes."""
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    def valid(facts) -> bool:
        return (
            isinstance(facts, dict)
            and set(facts) == {"embed_dim", "pretrained", "quick_gelu", "weights_id"}
            and type(facts["embed_dim"]) is int and facts["embed_dim"] > 0 and isinstance(facts["quick_gelu"], bool)
            and all(facts[k] is None or isinstance(facts[k], str) for k in ("pretrained", "weights_id"))
        )  # fmt: skip

    return memo if isinstance(memo, dict) and all(valid(facts) for facts in memo.values()) else {}


def _prompt_key(prompts: list[str]) -> str:
    return hashlib.sha256(json.dumps(prompts, ensure_ascii=False).encode()).hexdigest()


def _load_text_weights(tower: torch.nn.Module, path: str | os.PathLike) -> None:
    """Copy the text-tower tensors of an open_clip checkpoint into ``tower``, strictly.

    Reads lazily (safetensors, or a memory-mapped torch zip file) so that the image tower's
    tensors are never brought into memory. A torch file from the Hub cache is first checked
    against the SHA-256 the Hub stores it under (:func:`~openshape_ood.encoders._hub.verify_hub_blob`). Accepts the flat CLIP layout (text keys at the top
    level) and the CustomTextCLIP layout (``text.`` prefix).
    """
    path = str(path)
    try:  # safetensors reports any file it cannot open as missing
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise OSError(f"text tower weights {path} cannot be read ({exc.strerror or exc}); check its permissions") from None
    if path.endswith(".safetensors"):
        with safe_open(path, framework="pt") as handle:
            _copy_text_tensors(tower, list(handle.keys()), handle.get_tensor, path)
        return
    verify_hub_blob(path)  # before anything unpickles it: a file from the Hub cache is checked against its SHA-256
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ValueError(f"{path} holds no state dict; pass an open_clip checkpoint")
    if all(key.startswith("module.") for key in checkpoint):  # saved from DistributedDataParallel
        checkpoint = {key[len("module.") :]: value for key, value in checkpoint.items()}
    _copy_text_tensors(tower, list(checkpoint), checkpoint.__getitem__, path)


def _copy_text_tensors(tower: torch.nn.Module, keys: list[str], get, path: str) -> None:
    targets = tower.state_dict()
    prefix = "text." if any(key.startswith("text.") for key in keys) else ""
    if prefix:
        available = {key[len(prefix) :] for key in keys if key.startswith(prefix)}
    else:
        available = {key for key in keys if not key.startswith("visual.") and key not in ("logit_scale", "logit_bias")}
    missing = sorted(set(targets) - available)
    unexpected = sorted(available - set(targets))
    if missing or unexpected:
        raise ValueError(
            f"{path} does not match the text tower: missing {missing[:5]}, unexpected {unexpected[:5]} "
            f"({len(missing)} and {len(unexpected)} in all); check the model name and the checkpoint"
        )
    with torch.no_grad():
        for key, target in targets.items():
            source = get(prefix + key)
            if source.shape != target.shape:
                raise ValueError(
                    f"{path}: tensor {prefix + key} has shape {tuple(source.shape)} but the text tower "
                    f"expects {tuple(target.shape)}; check the model name and the checkpoint"
                )
            target.copy_(source)


class _CacheFile:
    """One safetensors file of class embeddings for one model and weights, keyed by prompt text.

    Writes are atomic (temporary file in the same folder, then ``os.replace``), so an
    interrupted run leaves the previous file intact; a folder that cannot be written means
    a warning and no cache. A file that cannot be read, belongs to other weights, fails the
    checksum of its tensors or holds anything but finite unit vectors of the right width is
    ignored with a warning (:func:`~openshape_ood.encoders._cache.read_cache_file`) and replaced on the next write. Concurrent writers cannot corrupt the
    file, but one may drop the other's new entries, which are then recomputed.
    """

    def __init__(self, path: Path, identity: dict[str, str], dim: int):
        self.path = path
        self.identity = identity
        self.dim = dim

    def read(self) -> dict[str, np.ndarray]:
        def check(key: str, vector: np.ndarray) -> str | None:
            problem = embedding_problem(vector, (self.dim,), tolerance=1e-4)
            return problem and f"entry {key} is not a finite float32 unit vector of width {self.dim}: it {problem}"

        entries = read_cache_file(
            self.path,
            what="text embedding cache",
            metadata=self.identity,
            mismatch="it was written for other weights",
            check=check,
        )
        return entries if entries is not None else {}

    def write(self, entries: dict[str, np.ndarray]) -> None:
        entries = {key: np.ascontiguousarray(value, dtype=np.float32) for key, value in entries.items()}
        save_tensors(self.path, entries, self.identity, "text embedding cache")
