"""Fixtures of the benchmark tests."""

import pytest

from ..helpers.release import make_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A synthetic release in the exact 3DOS layout (tests/synthetic_3dos.py), built once per module."""
    return make_release(tmp_path_factory.mktemp("release"))
