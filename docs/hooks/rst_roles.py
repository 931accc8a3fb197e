"""Griffe extension: the docstrings' Sphinx roles (``:func:`~a.b```) shown as inline code (``b``).

The docstrings cross-reference in Sphinx's syntax, which Markdown prints as is (``:func:`` before
the name). Many of their targets are relative (``.conformal``) or lazy re-exports
(``openshape_ood.NoveltyDetector``) that the site's anchors do not name, so they become plain code
rather than links; the signatures still link their types.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def plain(match: re.Match) -> str:
    shortened, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if shortened else target}`"


class RstRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: ARG002 - griffe's signature
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(plain, obj.docstring.value)
