"""Every method of METHODS keeps scikit-learn's estimator contract and round-trips through its spec."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from openshape_ood.methods import KNN, MCM, METHODS, Fused, KnownClasses, MaxCosine, NegativeLabels, Prototype
from openshape_ood.methods import method_spec, parse_method

# The checks that apply to estimators fitted on KnownClasses (not on X, y arrays).
CHECKS = (
    check_parameters_default_constructible,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_do_not_raise_errors_in_init_or_set_params,
)

# One instance per method with every parameter away from its default.
CHANGED = {
    "max_cosine": MaxCosine(),
    "mcm": MCM(temperature=0.07),
    "energy": METHODS["energy"](temperature=2.5),
    "negative_labels": NegativeLabels(temperature=0.05, negatives=["cat", "dog"], fraction=0.5, groups=2, seed=3),
    "prototype": Prototype(metric="euclidean"),
    "knn": KNN(k=3, metric="cosine", index="ivfpq", index_options={"nprobe": 8}),
    "fused": Fused(text=MCM(temperature=0.2), shape=Prototype(metric="euclidean"), weight=0.25),
}


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_scikit_learn_checks(name, check):
    check(name, METHODS[name]())


def test_every_method_has_a_changed_instance():
    assert set(CHANGED) == set(METHODS)
    for name, method in CHANGED.items():
        defaults = type(method)().get_params(deep=False)
        changed = method.get_params(deep=False)
        assert all(repr(changed[key]) != repr(defaults[key]) for key in defaults), name


@pytest.mark.parametrize("name", list(METHODS))
def test_method_spec_round_trips_every_parameter(name):
    method = CHANGED[name]
    spec = method_spec(method)
    again = parse_method(spec)
    assert type(again) is type(method) and method_spec(again) == spec
    for key, value in method.get_params(deep=True).items():
        other = again.get_params(deep=True)[key]
        assert (method_spec(value) == method_spec(other)) if hasattr(value, "needs") else value == other, key
    assert method_spec(METHODS[name]()) == name  # the defaults: the bare name


def test_fused_defaults_are_not_shared():
    first = Fused().set_params(shape__k=5)
    assert first.shape.k == 5 and Fused().shape == "knn" and method_spec(Fused()) == "fused"
    assert method_spec(first) == "fused(shape=knn(k=5))"
    assert parse_method(method_spec(first)).shape.k == 5
    # Parts are resolved into fresh objects in fit: two fits never share one.
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(6, 4))
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    known = KnownClasses(text=np.eye(4)[:2], reference=reference, reference_labels=np.array([0, 0, 0, 1, 1, 1]))
    a, b = Fused().fit(known), Fused().fit(known)
    assert a.shape_ is not b.shape_ and isinstance(a.shape_, KNN) and isinstance(a.text_, MaxCosine)
    np.testing.assert_array_equal(a.novelty(reference), clone(Fused(text=MaxCosine(), shape=KNN())).fit(known).novelty(reference))
