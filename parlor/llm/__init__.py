"""LLM providers behind one protocol, and the router that chains them."""

from parlor.config import ProviderConfig
from parlor.llm.openai import OpenAIProvider
from parlor.llm.router import AllProvidersFailed, Answering, Router
from parlor.llm.scripted import ScriptedProvider
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    LLMMessage,
    Provider,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageDelta,
)


def build_provider(config: ProviderConfig) -> Provider:
    if config.kind == "openai":
        assert config.base_url is not None  # checked by ProviderConfig
        return OpenAIProvider(
            config.name, config.model, config.base_url,
            api_key=config.api_key.get_secret_value() if config.api_key else None,
            connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
            max_connections=config.max_connections,
        )
    return ScriptedProvider(config.name, config.model, config.reply, config.token_delay)


__all__ = [
    "AllProvidersFailed", "Answering", "CompletionRequest", "Delta", "FinishDelta", "LLMMessage",
    "OpenAIProvider", "Provider", "ProviderError", "Router", "ScriptedProvider", "TextDelta", "ToolCall",
    "ToolCallDelta", "Usage", "UsageDelta",
    "build_provider",
]
