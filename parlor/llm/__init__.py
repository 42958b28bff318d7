"""LLM providers behind one protocol, and the router that chains them."""

from pathlib import Path

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


# the HTTP providers by kind, with the API's own address when `base_url` is not given
HTTP_PROVIDERS: dict[str, tuple[type[OpenAIProvider | AnthropicProvider | GeminiProvider], str]] = {
    "openai": (OpenAIProvider, ""),
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
    if (http := HTTP_PROVIDERS.get(config.kind)) is not None:
        kind, default_url = http
        base_url = config.base_url or default_url  # openai has none: ProviderConfig requires its base_url
        api_key = config.api_key.get_secret_value() if config.api_key else None
        if kind is OpenAIProvider:  # an OpenAI-compatible server's thinking is its model's (or <think> tags)
            return OpenAIProvider(config.name, config.model, base_url, api_key=api_key,
                                  connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                                  max_connections=config.max_connections)
        native: type[AnthropicProvider | GeminiProvider] = AnthropicProvider if kind is AnthropicProvider \
            else GeminiProvider
        return native(config.name, config.model, base_url, api_key=api_key, connect_timeout=config.connect_timeout,
                      read_timeout=config.read_timeout, max_connections=config.max_connections,
                      thinking_budget=config.thinking_budget)
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
