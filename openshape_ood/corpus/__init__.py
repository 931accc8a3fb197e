"""Corpora of shape files: a ``torch`` dataset, embedding in memory or into a resumable HDF5 file.

:func:`embed_files` and :func:`embed_to_file` embed many files (one bad file is reported, not
fatal); :func:`read_embeddings` reads what ``openshape-ood embed`` wrote; under ``torchrun`` the
work is split between ranks (:mod:`.distributed`); :class:`ReferenceBank` searches the labelled
reference shapes of such a file where they lie on disk, exactly or with an approximate index saved beside it.
"""

from .._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ShapeFileDataset": "dataset",
        "shape_loader": "dataset",
        "EmbeddedShapes": "embed",
        "EmbedReport": "embed",
        "embed_files": "embed",
        "embed_to_file": "embed",
        "ReferenceBank": "bank",
        "ResumableEmbeddingWriter": "embedding_file",
        "read_embeddings": "embedding_file",
    },
)
