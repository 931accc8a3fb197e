"""Shape and text encoders, and the weights they are built from.

Public faces: :class:`ShapeEncoder` (point clouds in, embeddings out), :class:`TextEncoder`
(class names in, embeddings out) and the model registry (:func:`get_entry`,
:func:`load_registry`). The two encoder families' modules, OpenShape PointBERT
(:mod:`.pointbert`) and Uni3D (:mod:`.uni3d`), and their sampling (:mod:`.sampling`) are
model code without I/O; the weight plumbing (registry, Hub, checkpoint,
download, caches) lives in the private ``_``-modules, as in timm and open_clip.
"""

from .._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "COMPUTE_DTYPES": "shape",
        "ShapeEncoder": "shape",
        "build_encoder": "shape",
        "Uni3DConfig": "uni3d",
        "build_uni3d": "uni3d",
        "Licences": "_registry",
        "TextEncoder": "text",
        "PointBertConfig": "pointbert",
        "build_point_bert": "pointbert",
        "REGISTRY_ENV": "_registry",
        "ModelEntry": "_registry",
        "UnknownModelError": "_registry",
        "get_entry": "_registry",
        "load_registry": "_registry",
        "model_entry": "_registry",
        "registry_paths": "_registry",
        "CheckpointError": "_checkpoint",
        "checkpoint_identity": "_checkpoint",
        "HubUnavailableError": "_hub",
        "model_status": "_hub",
        "FetchedFile": "_download",
        "download_model": "_download",
    },
)
