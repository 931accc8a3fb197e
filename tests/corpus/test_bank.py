"""Reference banks: an embeddings file searched on disk, its saved indexes refused when stale or foreign,
and an interrupted index build resumed."""

import numpy as np
import pytest

from openshape_ood import NoveltyDetector
from openshape_ood.corpus import bank as bank_module
from openshape_ood.corpus.bank import ReferenceBank, StaleIndexError
from openshape_ood.methods import KNN
from openshape_ood.methods.search import exact_search

from ..helpers.reference_bank import unit_rows, write_bank

CLASSES = ["chair"] * 30 + ["table"] * 20 + ["lamp"] * 10
IVFPQ = {"nlist": 2, "m": 4, "nbits": 4}


@pytest.fixture()
def rows():
    return unit_rows(len(CLASSES), 8, seed=0)


@pytest.fixture()
def bank(tmp_path, rows):
    return ReferenceBank(write_bank(tmp_path / "refs.h5", rows, CLASSES))


def test_a_bank_from_an_embed_file_scores_as_the_rows_in_memory(bank, rows):
    assert bank.shape == (60, 8) and list(bank.classes) == ["chair", "lamp", "table"]
    assert [bank.classes[label] for label in bank.labels] == CLASSES  # the folder of each row's file
    queries = unit_rows(7, 8, seed=1)
    on_disk = NoveltyDetector(KNN(k=2)).fit(reference=bank)
    in_memory = NoveltyDetector(KNN(k=2)).fit(reference=(rows, np.array(CLASSES)))
    np.testing.assert_allclose(on_disk.novelty(queries), in_memory.novelty(queries), atol=1e-7)
    assert on_disk.classify(queries).tolist() == in_memory.classify(queries).tolist()
    np.testing.assert_allclose(on_disk.similarity(queries), in_memory.similarity(queries), atol=1e-6)
    np.testing.assert_allclose(
        on_disk.method_.reference_novelty(), in_memory.method_.reference_novelty(), atol=1e-7
    )
    with pytest.raises(ValueError, match="dimension 5"):
        on_disk.novelty(unit_rows(2, 5, seed=2))
    # exact search reads the file in blocks: 7 rows at a time here
    np.testing.assert_array_equal(
        exact_search(queries, bank.embeddings, 3, block_bytes=4 * 8 * 7)[1], exact_search(queries, rows, 3)[1]
    )


def test_rows_that_are_not_unit_vectors_are_named(tmp_path, rows):
    rows = rows.copy()
    rows[5] *= 2
    bank = ReferenceBank(write_bank(tmp_path / "bad.h5", rows.astype(np.float32), CLASSES))
    with pytest.raises(ValueError, match=r"row 5 of .*bad.h5 \(chair/5.npy\)"):
        bank.checksum()


def test_a_stale_or_foreign_index_is_refused(tmp_path, rows):
    pytest.importorskip("faiss")
    path = write_bank(tmp_path / "refs.h5", rows, CLASSES)
    ReferenceBank(path).build_index("ivfpq", options=IVFPQ)
    index_path = ReferenceBank(path).index_path("ivfpq", "euclidean")
    assert ReferenceBank(path).load_index("ivfpq").size == 60
    with pytest.raises(ValueError, match="built with nlist=2, not 3"):
        ReferenceBank(path).load_index("ivfpq", options={"nlist": 3})
    changed = rows.copy()
    changed[[0, 1]] = changed[[1, 0]]
    path.unlink()
    write_bank(path, changed, CLASSES)  # the same file name, other rows
    with pytest.raises(StaleIndexError, match=f"{index_path}.*changed since it was built.*openshape-ood index"):
        NoveltyDetector(KNN(index="ivfpq")).fit(reference=ReferenceBank(path))
    index_path.write_bytes(b"not an index")
    with pytest.raises(StaleIndexError, match=f"{index_path} is not a readable openshape-ood index"):
        ReferenceBank(path).load_index("ivfpq")


def test_an_interrupted_index_build_resumes(tmp_path, rows, monkeypatch):
    pytest.importorskip("faiss")
    path = write_bank(tmp_path / "refs.h5", rows, CLASSES)
    monkeypatch.setattr(bank_module, "_block_rows", lambda width: 20)  # three blocks
    monkeypatch.setattr(bank_module, "CHECKPOINT_SECONDS", -1.0)  # a checkpoint after every block
    added = []
    original = bank_module.ApproximateIndex.add

    def add(self, block):
        if len(added) == 2:
            raise KeyboardInterrupt
        added.append(len(block))
        original(self, block)

    monkeypatch.setattr(bank_module.ApproximateIndex, "add", add)
    with pytest.raises(KeyboardInterrupt):
        ReferenceBank(path).build_index("ivfpq", options=IVFPQ)
    assert ReferenceBank(path).index_path("ivfpq", "euclidean", partial=True).is_file()
    resumed = []
    monkeypatch.setattr(bank_module.ApproximateIndex, "add", lambda self, block: (resumed.append(len(block)),
                                                                                 original(self, block)))  # fmt: skip
    index = ReferenceBank(path).build_index("ivfpq", options=IVFPQ)
    assert resumed == [20]  # the two blocks added before the interruption were kept
    assert index.size == 60 and not ReferenceBank(path).index_path("ivfpq", "euclidean", partial=True).exists()


class _CountingSearch:
    """A search that counts its calls (each one a pass over the whole bank)."""

    def __init__(self, search):
        self.inner, self.calls = search, 0

    def search(self, x, k):
        self.calls += 1
        return self.inner.search(x, k)


def test_scoring_shapes_against_a_bank_searches_it_once(bank, rows):
    from openshape_ood.detectors.functional import score_shapes

    detector = NoveltyDetector(KNN(k=2)).fit(reference=bank)
    counting = detector.method_.search_ = _CountingSearch(detector.method_.search_)
    queries = unit_rows(5, 8, seed=4)
    scored = score_shapes(detector, queries)  # novelty, class and similarity of the same shapes
    assert counting.calls == 1
    in_memory = NoveltyDetector(KNN(k=2)).fit(reference=(rows, np.array(CLASSES)))
    np.testing.assert_allclose(scored.decisions.novelty, in_memory.novelty(queries), atol=1e-7)
    assert scored.classes == [str(in_memory.classes_[c]) for c in in_memory.classify(queries)]
    np.testing.assert_allclose(scored.similarity, in_memory.similarity(queries), atol=1e-6)
    detector.novelty(unit_rows(3, 8, seed=5))  # other shapes: a new search
    assert counting.calls == 2


def test_an_ensemble_refuses_banks_for_knn_and_loads_them_for_prototype(tmp_path):
    from openshape_ood import EnsembleDetector

    classes = ["chair"] * 10 + ["table"] * 10
    banks = [ReferenceBank(write_bank(tmp_path / f"{name}.h5", unit_rows(20, dim, seed=dim), classes))
             for name, dim in (("b", 512), ("l", 768))]  # fmt: skip
    with pytest.raises(ValueError, match=r"member\(s\) \['vitb32', 'vitl14'\] is a reference bank.*bank.load\(\)"):
        EnsembleDetector(KNN(), model=["vitb32", "vitl14"]).fit(reference=banks)
    loaded = [(bank.load(), bank.classes[bank.labels]) for bank in banks]
    queries = [unit_rows(3, 512, seed=9), unit_rows(3, 768, seed=10)]
    in_memory = EnsembleDetector(KNN(), model=["vitb32", "vitl14"]).fit(reference=loaded)
    assert in_memory.similarity(queries).shape == (3,)  # what the message says to do works
    from_banks = EnsembleDetector("prototype", model=["vitb32", "vitl14"]).fit(reference=banks)
    from_arrays = EnsembleDetector("prototype", model=["vitb32", "vitl14"]).fit(reference=loaded)
    np.testing.assert_allclose(from_banks.similarity(queries), from_arrays.similarity(queries), atol=1e-12)
