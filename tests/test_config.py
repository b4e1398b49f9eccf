"""Settings from HYPERLOCAL_* variables."""

import pytest

from api.config import DEFAULTS, load_settings


def test_defaults_without_environment():
    assert load_settings({}) == DEFAULTS


def test_environment_overrides_with_types():
    settings = load_settings(
        {
            "HYPERLOCAL_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "HYPERLOCAL_PORT": "8080",
            "HYPERLOCAL_VERIFY_SCHEMA": "false",
            "HYPERLOCAL_GEOCODER": "nominatim",
            "HYPERLOCAL_GEOCODER_MIN_DELAY_SECONDS": "0.5",
            "OTHER_PORT": "1",
        }
    )
    assert settings["DATABASE_URL"] == "postgresql+psycopg://u@h/db"
    assert settings["PORT"] == 8080 and settings["VERIFY_SCHEMA"] is False
    assert settings["GEOCODER"] == "nominatim" and settings["GEOCODER_MIN_DELAY_SECONDS"] == 0.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "expected a whole number"),
        ("VERIFY_SCHEMA", "maybe", "expected true or false"),
        ("GEOCODER_TIMEOUT_SECONDS", "soon", "expected a number"),
        ("GEOCODER", "google", "use 'nominatim'"),
    ],
)
def test_bad_values_name_the_variable(name, value, message):
    with pytest.raises(ValueError, match=message) as raised:
        load_settings({f"HYPERLOCAL_{name}": value})
    assert f"HYPERLOCAL_{name}" in str(raised.value)
