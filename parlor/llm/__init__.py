"""LLM providers behind one protocol, and the router that chains them."""

from pathlib import Path
from typing import Any

from parlor.config import ProviderConfig
from parlor.llm.anthropic import AnthropicProvider
from parlor.llm.breaker import BreakerPolicy, BreakerState, MemoryBreakerStore, RedisBreakerStore
from parlor.llm.gemini import GeminiProvider
from parlor.llm.openai import OpenAIProvider
from parlor.llm.router import AllProvidersFailed, Answering, Resilience, Router
from parlor.llm.scripted import ScriptedProvider
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    LLMMessage,
    Provider,
    ProviderError,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    Thought,
    ThoughtfulMessage,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageDelta,
)


def resilience(config: ProviderConfig) -> Resilience:
    return Resilience(first_token=config.first_token_timeout, idle=config.idle_timeout, total=config.total_timeout,
                      retries=config.retries, breaker=BreakerPolicy(config.breaker_threshold, config.breaker_window,
                                                                    config.breaker_cooldown))


# the natively spoken APIs by kind, each with its own address (`base_url` may name another) and a thinking setting
NATIVE_PROVIDERS: dict[str, tuple[type[AnthropicProvider | GeminiProvider], str]] = {
    "anthropic": (AnthropicProvider, "https://api.anthropic.com"),
    "gemini": (GeminiProvider, "https://generativelanguage.googleapis.com"),
}


def build_provider(config: ProviderConfig, data_dir: Path = Path("data")) -> Provider:
    if config.kind == "local":
        from parlor.llm.local import LocalProvider  # the runtime is imported only when a local model is used

        return LocalProvider(config.name, config.model, model_path=config.model_path,
                             models_dir=config.models_dir or data_dir / "models", threads=config.threads,
                             context_size=config.context_size, parallel=config.parallel,
                             queue_size=config.queue_size)
    api_key = config.api_key.get_secret_value() if config.api_key else None
    http: dict[str, Any] = {"api_key": api_key, "connect_timeout": config.connect_timeout,
                            "read_timeout": config.read_timeout, "max_connections": config.max_connections}
    if config.kind == "openai":  # its thinking is the served model's own; ProviderConfig requires a base_url
        return OpenAIProvider(config.name, config.model, config.base_url or "", **http)
    if (native := NATIVE_PROVIDERS.get(config.kind)) is not None:
        kind, default_url = native
        return kind(config.name, config.model, config.base_url or default_url, thinking_budget=config.thinking_budget,
                    **http)
    return ScriptedProvider(config.name, config.model, config.reply, config.token_delay)


__all__ = [
    "AllProvidersFailed",
    "Answering",
    "AnthropicProvider",
    "BreakerPolicy",
    "BreakerState",
    "CompletionRequest",
    "Delta",
    "FinishDelta",
    "GeminiProvider",
    "LLMMessage",
    "MemoryBreakerStore",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "ReasoningDelta",
    "RedisBreakerStore",
    "RequestSent",
    "Resilience",
    "Router",
    "ScriptedProvider",
    "TextDelta",
    "Thought",
    "ThoughtfulMessage",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "UsageDelta",
    "build_provider",
    "resilience",
]
