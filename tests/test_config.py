from pathlib import Path

import pytest

from socpipe.config import STARTER_PACK, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_then_file_then_environment(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("spark:\n  master: local[1]\nrules:\n  paths: [myrules]\n")
    config = load_config(cfg_file, environ={"SOCPIPE__SPARK__MASTER": "local[2]", "OTHER": "x"})
    assert config.get("spark", "master") == "local[2]"
    assert config.get("detect", "events_per_file") == 50000
    assert config.rule_paths == [STARTER_PACK, (tmp_path / "myrules").resolve()]


def test_environment_values_are_yaml(tmp_path):
    config = load_config(None, environ={"SOCPIPE__RULES__PLACEHOLDERS": "{admins: [a, b]}"})
    assert config.get("rules", "placeholders") == {"admins": ["a", "b"]}


def test_unknown_keys_are_errors(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("spark:\n  mastr: local[1]\n")
    with pytest.raises(ValueError, match="unknown setting 'mastr'"):
        load_config(cfg_file, environ={})
    with pytest.raises(ValueError, match="SOCPIPE__NOPE"):
        load_config(None, environ={"SOCPIPE__NOPE": "1"})


def test_example_configuration_loads():
    config = load_config(ROOT / "socpipe.example.yaml", environ={})
    assert config.path("registry") == (ROOT / "socpipe/demo/registry.yaml").resolve()
    assert config.get("rules", "placeholders")["Administrators"]


def test_agency_hints_must_name_registry_agencies(tmp_path):
    from ingest.stamp import AgencyHints

    good = load_config(ROOT / "socpipe.example.yaml", environ={})
    assert AgencyHints.from_config(good).for_sender("10.20.3.4") == "skhcn"
    with pytest.raises(ValueError, match="agency 'nope' is not in the registry"):
        AgencyHints.from_config(load_config(ROOT / "socpipe.example.yaml", environ={
            "SOCPIPE__COLLECT__AGENCY_HINTS": "[{sender: 10.0.0.0/8, agency: nope}]"}))
