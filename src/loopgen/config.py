"""Configuration: defaults and validation against workflow/schemas/config.schema.yaml.

A bad config stops the workflow before any job with one line naming the key and what is expected.
"""

from __future__ import annotations

import os
from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    """A config value is wrong; the message is one line naming the key."""


def _with_defaults(validator_class):
    """A validator that fills in each property's `default` before checking it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {}))) or "none"
        where = f"{key}." if error.absolute_path else ""
        return f"{where}{extra[0]}: unknown key (allowed here: {allowed})"
    expected = error.schema.get("description", "")
    hint = f" — expected: {expected}" if expected else ""
    return f"{key}: {error.message}{hint}"


def load_schema(path: str | os.PathLike) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def validate(config: dict, schema: dict, demo_dirs: tuple[str, ...] = ()) -> dict:
    """Fill defaults into `config` (in place) and check it; raise ConfigError with one line.

    `demo_dirs` are raw-data folders the workflow generates itself, so they need not exist yet.
    """
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(errors[0]))
    for section in ("midi", "audio"):
        raw_dir = config[section]["raw_dir"]
        if raw_dir not in demo_dirs and not Path(raw_dir).is_dir():
            raise ConfigError(
                f"{section}.raw_dir: folder {raw_dir!r} does not exist — expected the folder of the raw {section} dump"
            )
    return config
