"""One `Settings` object, read from the environment (prefix `PARLOR_`), with embedded defaults."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

import pydantic_settings
from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderKind = Literal["openai", "scripted"]


class ProviderConfig(BaseModel):
    """One LLM endpoint; `PARLOR_PROVIDERS` lists them in fallback order."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    kind: ProviderKind
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str = "default"
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    # scripted provider only: the reply it streams, and the pause between tokens
    reply: str | None = None
    token_delay: float = Field(default=0.02, ge=0)

    @model_validator(mode="after")
    def _needs_base_url(self) -> ProviderConfig:
        if self.kind == "openai" and not self.base_url:
            raise ValueError(f"provider {self.name!r} of kind 'openai' needs a base_url")
        return self


def _default_providers() -> list[ProviderConfig]:
    return [ProviderConfig(name="demo", kind="scripted", model="parlor-demo")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("data")
    database_url: str = "sqlite+aiosqlite:///./data/parlor.db"
    redis_url: str | None = None
    providers: list[ProviderConfig] = Field(default_factory=_default_providers, min_length=1)
    auth: Literal["on", "off"] = "on"
    admin_token: SecretStr | None = None
    default_tier: str = "free"
    system_prompt: str = "You are Parlor, a helpful assistant. Answer clearly and concisely."
    history_messages: int = Field(default=20, ge=0, le=1000)
    max_message_chars: int = Field(default=32_000, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    web_dir: Path = Path("web/dist")
    log_level: str = "info"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("PARLOR_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("PARLOR_PROVIDERS: every provider needs a distinct name")
        if self.auth == "off" and not is_loopback(self.host):
            raise ValueError(f"PARLOR_AUTH=off is allowed only on a loopback address, not on {self.host!r}")
        return self

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mode(self) -> str:
        return "embedded" if self.embedded and not self.redis_url else "distributed"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(Exception):
    """A bad setting: its message is one line naming the setting."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except pydantic_settings.SettingsError as exc:  # a value that is not even valid JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"PARLOR_{field.group(1).upper()}" if field else "settings"
        raise SettingsError(f"invalid setting {name}: not valid JSON") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a check across settings: its message names them
            raise SettingsError(f"invalid setting {message}") from None
        where = ".".join(str(p) for p in first["loc"])
        detail = f" ({where})" if "." in where else ""
        raise SettingsError(f"invalid setting PARLOR_{where.split('.')[0].upper()}{detail}: {message}") from None
