"""Progress bars: labelled, on stderr, and only where someone watches them.

Every bar of this package comes from :func:`progress_bar` (or :func:`bar_class`, for
libraries that take a tqdm class). ``progress=None`` shows a bar when stderr is a terminal
or the code runs in a Jupyter kernel, so that logs and redirected output stay free of
bars; ``True`` forces one (``--progress``), ``False`` hides it (``--quiet``). In Jupyter,
with ``ipywidgets`` installed (``pip install "openshape-ood[notebooks]"``), bars are
notebook widgets, as ``tqdm.auto`` makes them; without it, text bars on stderr, and no
"IProgress not found" warning.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable

from tqdm import tqdm as text_tqdm

__all__ = ["bar_class", "in_notebook", "progress_bar", "show_progress"]


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (notebook, JupyterLab, VS Code, ``jupyter execute``)."""
    if "ipykernel" not in sys.modules:
        return False
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def show_progress(progress: bool | None = None) -> bool:
    """``progress`` when given, else whether stderr is a terminal or this runs in Jupyter."""
    if progress is not None:
        return bool(progress)
    return in_notebook() or _stderr_is_terminal()


def bar_class(label: str | None = None, progress: bool | None = None) -> type[text_tqdm]:
    """A tqdm class for other libraries' bars (huggingface_hub's ``tqdm_class``), shown per :func:`show_progress`.

    ``label`` replaces the description the library gives its bars.
    """
    base = _base_class()
    shown = show_progress(progress)

    class Bar(base):  # type: ignore[valid-type, misc]
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)  # huggingface_hub's own bars take a name; tqdm's do not
            if label is not None:
                kwargs["desc"] = label
            kwargs["disable"] = not shown or kwargs.get("disable") is True
            if base is text_tqdm:
                kwargs.setdefault("file", sys.stderr)
            super().__init__(*args, **kwargs)

    return Bar


def progress_bar(
    iterable: Iterable | None = None,
    *,
    desc: str,
    unit: str,
    total: int | None = None,
    progress: bool | None = None,
    **kwargs,
) -> text_tqdm:
    """A labelled progress bar over ``iterable`` (or updated by hand up to ``total``), shown per :func:`show_progress`."""
    return bar_class(progress=progress)(iterable, desc=desc, unit=unit, total=total, **kwargs)


def _base_class() -> type[text_tqdm]:
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    return text_tqdm


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
