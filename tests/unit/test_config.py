"""warroom.yaml: defaults, validation and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, WarroomConfig, load_config


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.severity_names == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert [s.pages for s in config.severities] == [True, True, False, False]
    assert config.role_names == ["commander", "scribe", "comms"]
    assert (config.channel_prefix, config.announcement_channel, config.slash_command) == (
        "inc",
        "incidents",
        "/incident",
    )


def test_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "severities:\n"
        "  - {name: SEV1, description: Outage, pages: true}\n"
        "  - {name: SEV2, description: Degraded}\n"
        "default_severity: SEV2\n"
        "channel_prefix: incident\n"
        "announcement_channel: '#ops-incidents'\n"
    )
    config = load_config(path)
    assert config.severity_names == ["SEV1", "SEV2"] and config.default_severity == "SEV2"
    assert config.announcement_channel == "ops-incidents"
    assert config.role_names == ["commander", "scribe", "comms"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("severities:\n  - {name: critical, description: x}\n", "severities.0.name: must look like SEV1"),
        ("channel_prefix: 'INC!'\n", "channel_prefix: must be 1-21 characters"),
        ("default_severity: SEV9\n", "default_severity: 'SEV9' is not one of SEV1, SEV2, SEV3, SEV4"),
        ("roles:\n  - {name: scribe, description: notes}\n", "roles: the commander role is required"),
        ("colour: red\n", "colour: Extra inputs are not permitted"),
        ("severities: [\n", "line 2"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("stakeholders: {SEV7: [support]}\n", "stakeholders: 'SEV7' is not one of SEV1"),
        (
            "stakeholders: {SEV1: ['#Lead ers']}\n",
            "stakeholders.SEV1: '#Lead ers' is not a channel name or id",
        ),
        (
            "status_page:\n  components: [{name: A}, {name: A}]\n",
            "status_page: components: names must be unique",
        ),
        (
            "status_page:\n  components: [{name: A, slo: 100}]\n",
            "status_page.components.0.slo: Input should be less than 100",
        ),
        ("status_page: {url: status.example.com}\n", "status_page.url: must be an absolute http(s) URL"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_file_named_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_model_defaults_are_independent() -> None:
    one, two = WarroomConfig(), WarroomConfig()
    one.severities.pop()
    assert len(two.severities) == 4
