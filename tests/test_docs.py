"""Every public class's docstring names each of its constructor parameters (issue #23)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re

import restore

# The optional extras of pyproject.toml. No module imports one when it is imported (they are all
# imported inside the functions that need them); a module that fails to import for a missing
# extra is skipped, any other import failure fails the test.
OPTIONAL = {"ray", "onnx", "onnxruntime", "bm3d", "skimage", "matplotlib"}


def _modules() -> list:
    modules = []
    for info in pkgutil.walk_packages(restore.__path__, "restore."):
        try:
            modules.append(importlib.import_module(info.name))
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] not in OPTIONAL:
                raise
    return modules


def _undocumented(cls: type) -> list[str]:
    """The constructor parameters of ``cls`` that its docstring (or ``__init__``'s) does not name
    as a word."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # a builtin's constructor (an exception class): none of its own
        return []
    doc = cls.__doc__ or ""
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        doc = ""  # the signature dataclasses write when the class has no docstring
    doc += cls.__init__.__doc__ or "" if "__init__" in vars(cls) else ""
    return [
        name
        for name in parameters
        if name not in ("self", "args", "kwargs")
        and not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", doc)
    ]


def test_public_classes_document_every_parameter():
    missing = {}
    for module in _modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isclass(obj):
                continue
            if obj.__module__ != module.__name__:
                continue
            undocumented = _undocumented(obj)
            if undocumented:
                missing[f"{module.__name__}.{name}"] = undocumented
    assert not missing, "\n".join(f"{cls}: {params}" for cls, params in missing.items())
