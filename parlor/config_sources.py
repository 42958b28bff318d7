"""Settings read from files: `PARLOR_<NAME>_FILE=/run/secrets/x` puts that file's contents in a setting
(Docker and Kubernetes secrets), so that a secret needs to be in no environment variable at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource


class FileSettingError(ValueError):
    """A `_FILE` variable that cannot be used; the message names it, never the file's contents."""


class FileVariables(PydanticBaseSettingsSource):
    """Values of `PARLOR_<NAME>_FILE` variables: the named file's text, its trailing newline dropped;
    JSON for structured settings (PARLOR_PROVIDERS_FILE). Setting both the variable and its `_FILE` fails."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            variable = f"PARLOR_{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if variable in os.environ:
                raise FileSettingError(f"set {variable} or {variable}_FILE, not both")
            text = _read(f"{variable}_FILE", path)
            found[name] = self._decode(f"{variable}_FILE", name, field, text) if self.field_is_complex(field) \
                else text
        return found

    def _decode(self, variable: str, name: str, field: FieldInfo, text: str) -> Any:
        try:
            return self.decode_complex_value(name, field, text)
        except ValueError:
            raise FileSettingError(f"{variable}: the file is not valid JSON") from None


def _read(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise FileSettingError(f"{variable}: cannot read {path}: {reason}") from None
