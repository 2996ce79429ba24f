"""Finding the repository and reading ``schedsync.yaml``.

``${VAR}`` and ``${VAR:-default}`` are expanded from the environment in string values
only after parsing, so an expanded value can never change the YAML structure; a
missing variable without a default is an error that names the variable (never its
value: values may be secrets). Secret-looking values are handed to ``engine.redact``,
which masks them in everything printed, logged or returned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schedsync.engine.errors import ConfigError
from schedsync.engine.redact import remember_env

CONFIG_NAME = "schedsync.yaml"
SCHEDULES_DIR = "schedules"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$")


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``schedsync.yaml``."""
    here = (start or Path.cwd()).resolve()
    if not here.exists():
        raise ConfigError(
            f"{here} does not exist: pass --repo with the folder that holds {CONFIG_NAME}."
        )
    if not here.is_dir():
        raise ConfigError(
            f"{here} is not a folder: pass --repo with the folder that holds {CONFIG_NAME}."
        )
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ConfigError(
        f"no {CONFIG_NAME} in {here} or any folder above it: run schedsync inside a "
        f"schedule repository, pass --repo PATH, or create {CONFIG_NAME} (see README)."
    )


@dataclass(frozen=True)
class MissingVariable:
    name: str
    path: tuple[str | int, ...]


def expand_env(
    value: Any,
    environ: Mapping[str, str] | None = None,
    path: tuple[str | int, ...] = (),
    missing: list[MissingVariable] | None = None,
) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string; ``$$`` is a literal ``$``."""
    env = os.environ if environ is None else environ
    found = [] if missing is None else missing
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in env:
                remember_env(name, env[name])  # masked in every message from now on
                return env[name]
            if default is not None:
                return default
            found.append(MissingVariable(name, path))
            return ""

        return _VAR.sub(replace, value)
    if isinstance(value, dict):
        return {k: expand_env(v, env, (*path, k), found) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env, (*path, i), found) for i, v in enumerate(value)]
    return value
