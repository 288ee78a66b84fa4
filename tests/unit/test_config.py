from pathlib import Path

import pytest
import yaml

from loopgen.config import ConfigError, load_schema, validate

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
DEMO = ("resources/demo/lmd", "resources/demo/looperman")


def shipped_config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_shipped_config_is_valid_and_gets_defaults():
    config = validate(shipped_config(), SCHEMA, DEMO)
    assert config["midi"]["n_shards"] >= 1
    # A key the shipped file leaves out is filled from the schema.
    assert config["device"] in {"auto", "cpu", "cuda"}


def test_every_schema_key_has_default_and_description():
    def walk(schema, where):
        for key, sub in schema.get("properties", {}).items():
            assert "description" in sub, f"{where}{key} has no description"
            assert "default" in sub, f"{where}{key} has no default"
            walk(sub, f"{where}{key}.")

    walk(SCHEMA, "")


def test_empty_config_is_the_demo():
    config = validate({}, SCHEMA, DEMO)
    assert config["midi"]["raw_dir"] == "resources/demo/lmd"


def test_negative_shard_count_names_the_key():
    config = shipped_config()
    config["midi"]["n_shards"] = -1
    with pytest.raises(ConfigError, match=r"^midi\.n_shards: -1 is less than the minimum of 1"):
        validate(config, SCHEMA, DEMO)


def test_unknown_key_names_the_key():
    config = shipped_config()
    config["midi"]["n_shard"] = 3
    with pytest.raises(ConfigError, match=r"^midi\.n_shard: unknown key"):
        validate(config, SCHEMA, DEMO)


def test_missing_raw_folder_names_the_key(tmp_path):
    config = shipped_config()
    config["midi"]["raw_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"^midi\.raw_dir: folder .* does not exist"):
        validate(config, SCHEMA, DEMO)


def test_error_is_one_line():
    config = shipped_config()
    config["audio"]["n_shards"] = "four"
    with pytest.raises(ConfigError) as info:
        validate(config, SCHEMA, DEMO)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("audio.n_shards:")
