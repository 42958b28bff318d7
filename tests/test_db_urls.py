"""parlor.db.urls: the one reading of a PostgreSQL URL's TLS and pooler parameters (no server needed)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from parlor.config import SettingsError, load_settings
from parlor.db import urls

BASE = "postgresql+asyncpg://u:secret@db.example:5432/parlor"


def test_a_plain_url_is_unchanged_and_uncached_only_behind_a_pooler() -> None:
    parsed = urls.parse(BASE)
    assert parsed.url.render_as_string(hide_password=False) == BASE
    assert parsed.asyncpg_dsn() == "postgresql://u:secret@db.example:5432/parlor"
    assert parsed.asyncpg_args() == {} and parsed.sqlalchemy_args() == {}


@pytest.mark.parametrize("url", [
    "postgresql+asyncpg://u@bouncer:6432/parlor",
    "postgresql+asyncpg://u@aws-0-eu-west-1.pooler.supabase.com:5432/postgres",
    "postgresql+asyncpg://u@ep-cool-1234-pooler.eu-central-1.aws.neon.tech/neondb",
    "postgresql+asyncpg://u@parlor.proxy-abc123.eu-west-1.rds.amazonaws.com/parlor",
    f"{BASE}?pooler=pgbouncer",
])
def test_a_pooler_turns_every_statement_cache_off(url: str) -> None:
    parsed = urls.parse(url)
    assert parsed.pooled
    assert parsed.asyncpg_args() == {"statement_cache_size": 0}
    args = parsed.sqlalchemy_args()
    assert args["statement_cache_size"] == 0 and args["prepared_statement_cache_size"] == 0
    names = {args["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3 and all(n.startswith("__asyncpg_") for n in names)
    assert "?" not in parsed.asyncpg_dsn()


def test_pooler_none_overrides_detection() -> None:
    assert not urls.parse("postgresql+asyncpg://u@bouncer:6432/parlor?pooler=none").pooled


@pytest.mark.parametrize(("query", "mode"), [
    ("sslmode=require", "require"), ("ssl=require", "require"), ("ssl=true", "require"),
    ("sslmode=disable", "disable"), ("ssl=false", "disable"), ("sslmode=verify-full", "verify-full"),
    ("sslmode=prefer&ssl=prefer", "prefer"),
])
def test_either_spelling_of_a_mode_becomes_one_ssl_argument(query: str, mode: str) -> None:
    parsed = urls.parse(f"{BASE}?{query}")
    assert parsed.ssl == mode and parsed.asyncpg_args() == {"ssl": mode}
    assert "ssl" not in parsed.asyncpg_dsn()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(path.with_suffix(".key")), "-out", str(path)], check=True, capture_output=True)
    return path


def test_verify_full_with_a_root_certificate_checks_chain_and_host(ca: Path) -> None:
    context = urls.parse(f"{BASE}?sslmode=verify-full&sslrootcert={ca}").ssl
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("query", ["sslmode=verify-ca&sslrootcert={ca}", "sslmode=require&sslrootcert={ca}",
                                   "sslrootcert={ca}"])
def test_a_root_certificate_without_verify_full_checks_the_chain_only(ca: Path, query: str) -> None:
    context = urls.parse(f"{BASE}?{query.format(ca=ca)}").ssl  # as libpq: require with a root is verify-ca
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname


def test_a_client_certificate_is_loaded(ca: Path) -> None:
    context = urls.parse(f"{BASE}?sslmode=require&sslcert={ca}&sslkey={ca.with_suffix('.key')}").ssl
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(("query", "says"), [
    ("statement_cache_size=0", "unknown parameter 'statement_cache_size'"),
    ("sslmode=sometimes", "sslmode='sometimes' is not one of"),
    ("sslmode=require&ssl=disable", "sslmode and ssl disagree"),
    ("pooler=pgpool", "pooler='pgpool' is not one of"),
    ("sslmode=verify-full&sslrootcert=/nonexistent/ca.crt", "sslrootcert=/nonexistent/ca.crt"),
    ("sslmode=disable&sslrootcert=/nonexistent/ca.crt", "ignores certificates"),
    ("sslkey=/k.pem", "sslkey needs sslcert"),
    ("sslmode=require&sslmode=disable", "given 2 times"),
])
def test_a_wrong_parameter_is_one_line_naming_it(query: str, says: str) -> None:
    with pytest.raises(urls.DatabaseUrlError) as raised:
        urls.parse(f"{BASE}?{query}")
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_settings_refuse_a_wrong_parameter_in_either_url() -> None:
    with pytest.raises(SettingsError, match="PARLOR_DATABASE_URL: database URL: unknown parameter 'foo'"):
        load_settings(database_url=f"{BASE}?foo=1")
    with pytest.raises(SettingsError, match=r"PARLOR_VECTOR_URL: .*sslmode='nope'"):
        load_settings(vector_url=f"{BASE}?sslmode=nope")


def test_the_pooler_setting_marks_both_urls_unless_they_say() -> None:
    settings = load_settings(database_url=BASE, vector_url=f"{BASE}?pooler=none", database_pooler="pgbouncer")
    assert urls.parse(settings.database_url).pooled and settings.database_url.endswith("?pooler=pgbouncer")
    assert settings.vector_url is not None and not urls.parse(settings.vector_url).pooled
    assert load_settings(database_url=BASE).database_url == BASE  # auto: the URL as given
