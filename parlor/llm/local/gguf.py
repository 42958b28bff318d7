"""A GGUF file's metadata (header and key/value section only, never the tensors), and the model's own
tokenizer built from it: the byte-level BPE of the Qwen2 and SmolLM2 families, in-process and fast,
without loading any weights (the equivalent of llama.cpp's `vocab_only`)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

MAGIC = b"GGUF"
# GGUF value types: uint8 int8 uint16 int16 uint32 int32 float32 bool string array uint64 int64 float64
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
TOKEN_CONTROL = 3  # tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user defined, 6 byte

# the pre-tokenizer regexes llama.cpp uses for these families (tokenizer.ggml.pre)
PRE_TOKENIZERS = {
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
             r"|\s+(?!\S)|\s+",
    "smollm": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
}
PRE_TOKENIZERS["default"] = PRE_TOKENIZERS["smollm"]


class GGUFError(Exception):
    pass


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise GGUFError("the file ends inside its metadata")
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
    length = _read(f, "<Q")
    return f.read(length).decode("utf-8", errors="replace")


def _value(f: BinaryIO, kind: int) -> Any:
    if kind == _STRING:
        return _string(f)
    if kind == _ARRAY:
        item_kind, count = _read(f, "<I"), _read(f, "<Q")
        if item_kind == _STRING:
            return [_string(f) for _ in range(count)]
        fmt = _SCALARS.get(item_kind)
        if fmt is None:
            return [_value(f, item_kind) for _ in range(count)]
        size = struct.calcsize(fmt)
        return list(struct.unpack(f"<{count}{fmt[1]}", f.read(size * count)))
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise GGUFError(f"unknown metadata value type {kind}")
    return _read(f, fmt)


def read_metadata(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        if f.read(4) != MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file")
        version = _read(f, "<I")
        if version < 2:
            raise GGUFError(f"{path.name}: GGUF version {version} is too old")
        _read(f, "<Q")  # tensor count
        count = _read(f, "<Q")
        metadata: dict[str, Any] = {}
        for _ in range(count):
            key = _string(f)
            metadata[key] = _value(f, _read(f, "<I"))
        return metadata


def build_tokenizer(metadata: dict[str, Any]) -> Tokenizer:
    """The model's byte-level BPE tokenizer from GGUF metadata (tokenizer.ggml.model == "gpt2")."""
    if metadata.get("tokenizer.ggml.model") != "gpt2":
        raise GGUFError(f"tokenizer {metadata.get('tokenizer.ggml.model')!r} is not supported (only byte-level BPE)")
    tokens: list[str] = metadata["tokenizer.ggml.tokens"]
    merges = [tuple(m.split(" ", 1)) for m in metadata.get("tokenizer.ggml.merges", [])]
    types: list[int] = metadata.get("tokenizer.ggml.token_type", [])
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab, merges, ignore_merges=False))
    pattern = PRE_TOKENIZERS.get(str(metadata.get("tokenizer.ggml.pre", "default")), PRE_TOKENIZERS["default"])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    specials = [tokens[i] for i, kind in enumerate(types) if kind == TOKEN_CONTROL]
    tokenizer.add_special_tokens(specials)
    return tokenizer
