"""Registra settings: one environment-driven module.

SQLite in ``REGISTRA_DATA_DIR`` by default, PostgreSQL through ``DATABASE_URL`` (and a streaming
replica for API reads through ``DATABASE_REPLICA_URL``), Redis through ``REDIS_URL`` for the
shared rate-limit counters. A bad value fails at start-up.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

BASE_DIR = Path(__file__).resolve().parent


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


DATA_DIR = Path(os.environ.get("REGISTRA_DATA_DIR", "var")).resolve()
DEBUG = _env_bool("REGISTRA_DEBUG", False)
SECRET_KEY = os.environ.get("REGISTRA_SECRET_KEY", "")


def _install_key(filename: str, variable: str) -> str:
    """A stable per-install key beside the SQLite file, so every worker process uses the same key
    across restarts (created once, exclusively, then always re-read)."""
    import secrets

    key_file = DATA_DIR / filename
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    key = key_file.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{key_file} is empty; delete it or set {variable}")
    return key


if not SECRET_KEY:
    SECRET_KEY = _install_key("secret_key", "REGISTRA_SECRET_KEY")


def _audit_key() -> tuple[str, str]:
    """The key that seals the audit chains and signs their checkpoints; never in the database.

    Production sets ``REGISTRA_AUDIT_KEY`` (the same value on every host); without it the key is
    generated once into ``$REGISTRA_DATA_DIR/audit_key``. Returns the key and that file's path
    ("" for the variable). Decision record 0005."""
    raw, source = os.environ.get("REGISTRA_AUDIT_KEY"), "REGISTRA_AUDIT_KEY"
    if raw is None:
        key, source = _install_key("audit_key", source), str(DATA_DIR / "audit_key")
    elif not raw.strip():
        raise ImproperlyConfigured("REGISTRA_AUDIT_KEY is set but empty; set a random key")
    else:
        key = raw
    if len(key) < 32 or key != key.strip():
        raise ImproperlyConfigured(
            f"the audit key ({source}) must be at least 32 characters without surrounding spaces, "
            "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if key == SECRET_KEY:
        raise ImproperlyConfigured("REGISTRA_AUDIT_KEY must differ from REGISTRA_SECRET_KEY")
    return key, "" if raw is not None else source


# The generated file is per host: core/apps.py warns at start-up when PostgreSQL (shared by
# several hosts, as a rule) is used with it.
REGISTRA_AUDIT_KEY, REGISTRA_AUDIT_KEY_FILE = _audit_key()

# Keys the hashes of client secrets and access tokens (organizations/credentials.py); unset: the
# SECRET_KEY. Changing it invalidates every client secret and token.
REGISTRA_CREDENTIAL_KEY = os.environ.get("REGISTRA_CREDENTIAL_KEY", "")
if REGISTRA_CREDENTIAL_KEY and len(REGISTRA_CREDENTIAL_KEY) < 32:
    raise ImproperlyConfigured("REGISTRA_CREDENTIAL_KEY must be at least 32 characters")

# Seconds `registra serve` lets a worker process finish its requests when it stops, before it
# kills it: Granian would otherwise wait for ever, and a worker that missed its stop signal
# (Ctrl-C reaching the whole process group at once, say) kept the server from exiting.
REGISTRA_SERVE_STOP_SECONDS = _env_int("REGISTRA_SERVE_STOP_SECONDS", 15)
if REGISTRA_SERVE_STOP_SECONDS < 1:
    raise ImproperlyConfigured("REGISTRA_SERVE_STOP_SECONDS must be at least 1 (seconds)")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("REGISTRA_ALLOWED_HOSTS", "*").split(",")]
# Peers whose X-Forwarded-For and X-Forwarded-Proto `registra serve` believes (registra/wsgi.py).
FORWARDED_ALLOW_IPS = [
    h.strip() for h in os.environ.get("REGISTRA_FORWARDED_ALLOW_IPS", "127.0.0.1").split(",")
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the reference page's Swagger UI files locally (no CDN)
    "django_otp",  # multi-factor sign-in: TOTP authenticators (decision 0014)
    "django_otp.plugins.otp_totp",
    "django_tasks",  # background tasks (the DEP 14 backport): the nightly imports
    "django_tasks_db",  # ... kept in the database, run by `registra worker`
    "registra.core",
    "registra.organizations",
    "registra.assets",
    "registra.imports",
    "registra.api",
    "registra.web",
]

# ApiV1Dispatch first: it serves /api/v1 through API_V1_MIDDLEWARE and the API's own URLconf,
# and passes everything else down this chain (registra/api/v1/stack.py, decision 0003). A
# middleware added here runs for the web UI only; start-up logs a warning naming it unless it
# is also in API_V1_MIDDLEWARE or known to be web-only.
MIDDLEWARE = [
    "registra.api.v1.stack.ApiV1Dispatch",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "registra.core.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# The chain of every /api/v1 request. The request id, security and clickjacking headers first,
# so every response carries them (an HTTPS redirect, the API's own 429s and envelopes too);
# CommonMiddleware checks ALLOWED_HOSTS (and PREPEND_WWW, DISALLOWED_USER_AGENTS) after the
# request is counted, and ApiV1Middleware turns its refusals into envelopes.
API_V1_MIDDLEWARE = [
    "registra.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "registra.api.v1.middleware.ApiV1Middleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "registra.urls"

# Members sign in with their email and password (registra/web/auth.py, decision 0009).
AUTHENTICATION_BACKENDS = ["registra.web.auth.MemberBackend"]
# Sign-in throttling (decision 0014): refused sign-ins counted per account (email address) and
# per client address, in the cache (Redis when REDIS_URL is set, so every server process
# shares the counts); at the limit, sign-in is refused until the window ends. "count/period",
# the period in s, m, h or d, optionally with a multiplier ("5/15m").
REGISTRA_SIGN_IN_FAILURES_PER_ACCOUNT = os.environ.get(
    "REGISTRA_SIGN_IN_FAILURES_PER_ACCOUNT", "5/15m"
)
REGISTRA_SIGN_IN_FAILURES_PER_ADDRESS = os.environ.get(
    "REGISTRA_SIGN_IN_FAILURES_PER_ADDRESS", "20/15m"
)
# The issuer an authenticator app shows beside the account (django-otp), with the member's
# organization, so a person in two organizations tells their two entries apart.
TOTP_ISSUER = os.environ.get("REGISTRA_TOTP_ISSUER", "Registra")


def OTP_TOTP_ISSUER(device: Any) -> str:  # django-otp calls its setting with the device
    return f"{TOTP_ISSUER} ({device.user.organization.name})"


LOGIN_URL = "web:sign-in"
SESSION_COOKIE_HTTPONLY = True
# Behind TLS (the proxy of REGISTRA_FORWARDED_ALLOW_IPS), browsers send the cookies only over it.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_bool("REGISTRA_SECURE_COOKIES", False)
SESSION_COOKIE_SAMESITE = "Lax"
# Closing the browser does not end a session; two weeks without a visit does.
SESSION_COOKIE_AGE = 14 * 24 * 3600
WSGI_APPLICATION = "registra.wsgi.application"
AUTH_USER_MODEL = "organizations.Member"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "registra.web.context.permissions",
            ]
        },
    }
]

_default_db = f"sqlite:///{DATA_DIR / 'registra.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL", _default_db)
# API v1's data reads go here when set (registra/core/db.py says which reads); PostgreSQL only.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
_SQLITE, _POSTGRESQL = "django.db.backends.sqlite3", "django.db.backends.postgresql"
_SCHEMES = {_SQLITE: "sqlite://", _POSTGRESQL: "postgresql://"}


def _database(
    variable: str, url: str, engines: tuple[str, ...] = (_SQLITE, _POSTGRESQL)
) -> dict[str, Any]:
    """The Django database settings of a URL: SQLite tuned for one writer, PostgreSQL through one
    connection pool per server process."""
    try:
        db = dj_database_url.parse(url, conn_max_age=_env_int("REGISTRA_DB_CONN_MAX_AGE", 60))
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"{variable} is not a valid database URL: {exc}") from exc
    if db.get("ENGINE") not in engines:
        schemes = " or ".join(_SCHEMES[engine] for engine in engines)
        raise ImproperlyConfigured(f"{variable} must be a {schemes} URL")
    if not db.get("NAME"):
        raise ImproperlyConfigured(f"{variable} names no database")
    if db["ENGINE"] == _SQLITE:
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers proceed while the importer writes; a busy timeout, not instant errors.
        db["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        db["CONN_MAX_AGE"] = 0 if DEBUG else db.get("CONN_MAX_AGE", 60)
    elif (pool_size := _env_int("REGISTRA_DB_POOL_SIZE", 10)) > 0:
        # Django's connections are per thread and requests run on several threads: persistent
        # connections piled up (one per request thread) and CONN_MAX_AGE=0 paid a new connection
        # per request. One pool per server process serves every request thread. The timeout
        # bounds how long a request (and /readyz) waits for a database it cannot reach.
        if (pool_timeout := _env_int("REGISTRA_DB_POOL_TIMEOUT", 10)) < 1:
            raise ImproperlyConfigured("REGISTRA_DB_POOL_TIMEOUT must be at least 1 (seconds)")
        db["CONN_MAX_AGE"] = 0
        # A pooled connection is checked (an empty query) as a request takes it, and replaced
        # when the database cut it: after a restart or a failover the first requests are
        # answered, not refused once for every dead connection still in the pool.
        db["CONN_HEALTH_CHECKS"] = True
        db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": pool_size,
            "timeout": pool_timeout,
        }
    db.setdefault("TEST", {})
    return dict(db)


DATABASES = {"default": _database("DATABASE_URL", DATABASE_URL)}

# Background tasks (the nightly CMMS import, decision 0015): kept in the database, run by
# `registra worker`; two workers never take the same task.
TASKS = {"default": {"BACKEND": "django_tasks_db.backend.DatabaseBackend"}}
if DATABASE_REPLICA_URL:
    if DATABASES["default"]["ENGINE"] != _POSTGRESQL:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs a postgresql:// DATABASE_URL")
    DATABASES["replica"] = _database("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL, (_POSTGRESQL,))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
    CACHES = {
        "default": {
            # django-redis keeps one connection pool per Redis URL for the whole process (Django
            # builds a cache object per thread; they all share it), and hands out
            # its client for the rate-limit script (``get_redis_connection``).
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Every key starts with "<prefix>:": servers and test suites sharing one Redis
            # database keep apart, and a test clears only its own keys.
            "KEY_PREFIX": os.environ.get("REGISTRA_CACHE_PREFIX", "registra"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Member passwords (accepting an invitation, an admin's reset): Django's four standard checks.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Email (invitations): SMTP when REGISTRA_SMTP_HOST is set, else files in the data directory
# (one per message, for an operator to read), unless REGISTRA_EMAIL_BACKEND names another
# backend (``console``, ``file``, ``smtp`` or a dotted path). Tests use Django's locmem backend.
_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
EMAIL_HOST = os.environ.get("REGISTRA_SMTP_HOST", "")
EMAIL_PORT = _env_int("REGISTRA_SMTP_PORT", 587)
EMAIL_HOST_USER = os.environ.get("REGISTRA_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("REGISTRA_SMTP_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("REGISTRA_SMTP_STARTTLS", True)
EMAIL_USE_SSL = _env_bool("REGISTRA_SMTP_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    if os.environ.get("REGISTRA_SMTP_STARTTLS", "").strip():
        raise ImproperlyConfigured("set REGISTRA_SMTP_STARTTLS or REGISTRA_SMTP_SSL, not both")
    EMAIL_USE_TLS = False  # implicit TLS asked for: no STARTTLS on top
EMAIL_TIMEOUT = _env_int("REGISTRA_SMTP_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("REGISTRA_EMAIL_FROM", "Registra <registra@localhost>")
_email_backend = os.environ.get("REGISTRA_EMAIL_BACKEND", "").strip()
_email_backend = _email_backend or ("smtp" if EMAIL_HOST else "file")
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
if "." not in EMAIL_BACKEND:
    raise ImproperlyConfigured(
        f"REGISTRA_EMAIL_BACKEND must be one of {sorted(_EMAIL_BACKENDS)} or a dotted path,"
        f" got {_email_backend!r}"
    )
if EMAIL_BACKEND.endswith(".smtp.EmailBackend") and not EMAIL_HOST:
    raise ImproperlyConfigured("REGISTRA_EMAIL_BACKEND=smtp needs REGISTRA_SMTP_HOST")
EMAIL_FILE_PATH = Path(os.environ.get("REGISTRA_EMAIL_DIR", DATA_DIR / "email")).resolve()
# The address of this install as people reach it (``https://registra.example.com``): the
# invitation links in emails start with it. Unset: the host of the request that sends the
# invitation (the command line then prints a path only).
REGISTRA_BASE_URL = os.environ.get("REGISTRA_BASE_URL", "").strip().rstrip("/")
if REGISTRA_BASE_URL and not REGISTRA_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("REGISTRA_BASE_URL must start with http:// or https://")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Evidence files of readiness assessments (decision 0010): kept through Django's storage API,
# on the file system under the data directory by default. No MEDIA_URL: they are never served
# as media; only web:evidence streams them, to members of their organization.
MEDIA_ROOT = DATA_DIR / "evidence"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# An evidence file's size limit (bytes) and the types accepted (checked by name and content).
REGISTRA_EVIDENCE_MAX_BYTES = _env_int("REGISTRA_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
REGISTRA_EVIDENCE_TYPES = [
    t.strip()
    for t in os.environ.get(
        "REGISTRA_EVIDENCE_TYPES", "application/pdf,image/png,image/jpeg,text/csv,text/plain"
    ).split(",")
    if t.strip()
]
# The types registra.web.evidence knows how to recognise by their content.
_EVIDENCE_KNOWN = {"application/pdf", "image/png", "image/jpeg", "text/csv", "text/plain"}
if _unknown := sorted(set(REGISTRA_EVIDENCE_TYPES) - _EVIDENCE_KNOWN):
    raise ImproperlyConfigured(
        f"REGISTRA_EVIDENCE_TYPES names unknown types {_unknown}; known: {sorted(_EVIDENCE_KNOWN)}"
    )

# --- imports (issue 9) ---
# A CMMS export uploaded through the web is streamed to a temporary file (never held in
# memory), refused past this size, and accepted only with one of these name endings.
# A nightly import from a URL waits this long for the export (docs/operations.md).
REGISTRA_IMPORT_URL_TIMEOUT = _env_int("REGISTRA_IMPORT_URL_TIMEOUT", 60)
if REGISTRA_IMPORT_URL_TIMEOUT < 1:
    raise ImproperlyConfigured("REGISTRA_IMPORT_URL_TIMEOUT must be at least 1 (seconds)")
# The worker deletes the plan items of ended runs older than this many days after each
# nightly run (0, the default: keep them; decision 0019).
REGISTRA_IMPORT_PLAN_DAYS = _env_int("REGISTRA_IMPORT_PLAN_DAYS", 0)
if REGISTRA_IMPORT_PLAN_DAYS < 0:
    raise ImproperlyConfigured("REGISTRA_IMPORT_PLAN_DAYS must be 0 (keep) or a number of days")
REGISTRA_IMPORT_MAX_UPLOAD_MB = _env_int("REGISTRA_IMPORT_MAX_UPLOAD_MB", 200)
if REGISTRA_IMPORT_MAX_UPLOAD_MB < 1:
    raise ImproperlyConfigured("REGISTRA_IMPORT_MAX_UPLOAD_MB must be at least 1 (megabytes)")
_IMPORT_EXTENSIONS = os.environ.get("REGISTRA_IMPORT_EXTENSIONS", ".csv,.txt,.jsonl,.ndjson,.xlsx")
REGISTRA_IMPORT_EXTENSIONS = [e.strip().lower() for e in _IMPORT_EXTENSIONS.split(",") if e.strip()]
if _bad := [e for e in REGISTRA_IMPORT_EXTENSIONS if not e.startswith(".") or len(e) < 2]:
    raise ImproperlyConfigured(f"REGISTRA_IMPORT_EXTENSIONS: endings start with a dot, got {_bad}")
# --- end imports (issue 9) ---

# API v1 limits (SPEC section 4). Settings so that benchmarks and operators can raise them.
REGISTRA_TOKEN_TTL_SECONDS = _env_int("REGISTRA_TOKEN_TTL_SECONDS", 900)
REGISTRA_CURSOR_TTL_SECONDS = _env_int("REGISTRA_CURSOR_TTL_SECONDS", 24 * 3600)
REGISTRA_RATE_LIMIT_TOKEN_READS = _env_int("REGISTRA_RATE_LIMIT_TOKEN_READS", 600)
REGISTRA_RATE_LIMIT_ORG_REQUESTS = _env_int("REGISTRA_RATE_LIMIT_ORG_REQUESTS", 3000)
REGISTRA_RATE_LIMIT_WINDOW_SECONDS = 60
# The token endpoint's own, tighter limits (grants per minute): per client id and per client
# address, so guessing one client's secret or many clients' from one address is slow.
REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT = _env_int("REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT", 10)
REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS = _env_int("REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS", 30)

# One JSON object per line on stderr: time (ISO 8601, UTC), level, logger, message, exc (the
# traceback, when there is one) and every field the log call passed in ``extra=`` (Django's
# request lines pass status_code; core.logging.RequestFields adds the request's id, method and
# path in place of the request object).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.orjson.OrjsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "timestamp": "time",
            "rename_fields": {"levelname": "level", "name": "logger", "exc_info": "exc"},
            "reserved_attrs": [*RESERVED_ATTRS, "request"],
        }
    },
    "filters": {"request_fields": {"()": "registra.core.logging.RequestFields"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_fields"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("REGISTRA_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
