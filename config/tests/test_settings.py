"""Production settings refuse to start without real secrets, and pass `check --deploy` with them."""

import base64
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
DEV_CARD_DATA_KEY = base64.b64encode(b"dev-card-data-key-32-bytes-long!").decode()


def b64key(n=32) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def real_secret_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits + "!@#%^&*(-_=+)") for _ in range(64))


def manage(tmp_path, *args, **env_vars):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **env_vars,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def production(tmp_path):
    """Real-looking production environment."""
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": real_secret_key(),
        "CARD_DATA_KEYS": f"1:{b64key()}",
        "CARD_FINGERPRINT_KEY": b64key(),
        "WEBHOOK_ENCRYPTION_KEYS": f"1:{b64key()}",
        "ISSUING_CVC_KEY": b64key(),
        "ALLOWED_HOSTS": "pay.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
    }


def test_production_without_secrets_refuses_to_start(tmp_path):
    result = manage(tmp_path, "check", DJANGO_ENV="production")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for name in ("SECRET_KEY", "CARD_DATA_KEYS", "CARD_FINGERPRINT_KEY"):
        assert name in result.stderr


def test_production_names_only_what_is_missing(tmp_path):
    result = manage(tmp_path, "check", DJANGO_ENV="production", SECRET_KEY=real_secret_key(),
                    ALLOWED_HOSTS="pay.example.com")
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "CARD_DATA_KEYS" in message
    assert "CARD_FINGERPRINT_KEY" in message
    assert "SECRET_KEY" not in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"SECRET_KEY": "dev-insecure-secret-key-never-use-in-production"}, "SECRET_KEY"),
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY"),
        ({"CARD_DATA_KEYS": f"1:{DEV_CARD_DATA_KEY}"}, "development key"),
        ({"CARD_DATA_KEYS": f"1:{b64key(16)}"}, "32 bytes"),
        ({"CARD_DATA_KEYS": "1:not base64!"}, "CARD_DATA_KEYS"),
        ({"CARD_FINGERPRINT_KEY": b64key(8)}, "CARD_FINGERPRINT_KEY"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"ISSUING_CVC_KEY": base64.b64encode(b"dev-issuing-cvc-key-32-bytes-ok!").decode()}, "ISSUING_CVC_KEY"),
        ({"ISSUING_CVC_KEY": b64key(16)}, "ISSUING_CVC_KEY"),
        ({"ISSUING_CVC_KEY": ""}, "ISSUING_CVC_KEY"),
    ],
    ids=["dev-secret", "short-secret", "dev-card-key", "short-card-key", "bad-card-key", "short-fp-key", "no-hosts",
         "dev-cvc-key", "short-cvc-key", "no-cvc-key"],
)
def test_production_refuses_weak_configuration(tmp_path, production, override, expected):
    result = manage(tmp_path, "check", **{**production, **override})
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert expected in result.stderr.strip().splitlines()[-1]


def test_production_with_real_values_passes_deploy_checks(tmp_path, production):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_seed_demo_refuses_to_run_in_production(tmp_path, production):
    result = manage(tmp_path, "seed_demo", "--json", **production)
    assert result.returncode != 0
    assert "production" in result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("name, value, expected", [
    ("PORTAL_SIGNUP_PER_IP", "-1", "PORTAL_SIGNUP_PER_IP must be 0 (no limit) or more"),
    ("PORTAL_PASSWORD_RESET_PER_EMAIL", "-3", "PORTAL_PASSWORD_RESET_PER_EMAIL must be 0 (no limit) or more"),
    ("PORTAL_EMAIL_LIMIT_WINDOW_SECONDS", "0", "PORTAL_EMAIL_LIMIT_WINDOW_SECONDS must be 1 or more"),
    ("EVENT_RETENTION_DAYS", "7", "EVENT_RETENTION_DAYS must be 0 (keep forever) or at least 30"),
])
def test_portal_email_limits_refuse_nonsense(tmp_path, name, value, expected):
    result = manage(tmp_path, "check", **{name: value})
    assert result.returncode != 0
    assert expected in result.stderr
