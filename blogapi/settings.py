"""Settings for blogapi: one module, configured only by environment variables (see .env.example)."""

import hashlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from blogapi.core.env import (
    derived_fernet_key,
    env_count,
    env_duration,
    env_fernet_keys,
    env_flag,
    env_int_between,
    env_positive_int,
    env_rate_limits,
)
from blogapi.core.webauthn_config import is_ip_address, webauthn_settings_check

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# --- Core -------------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env_flag(env, "DJANGO_DEBUG", default=False)

# Production (DEBUG off) refuses to start on a missing or weak secret rather than run insecurely.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105
elif not DEBUG and len(SECRET_KEY) < 50:
    # 50, as `check --deploy` asks (security.W009).
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters long.")

ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

# Where e-mailed links point when a front-end handles them; empty → pages served by this API.
FRONTEND_URL = env.str("FRONTEND_URL", default="").rstrip("/")
if FRONTEND_URL and urlsplit(FRONTEND_URL).scheme not in ("http", "https"):
    raise ImproperlyConfigured("FRONTEND_URL must be an http(s) URL, e.g. https://app.example.com")
# This API's public base URL, for links to its own pages: configured, never taken from a request's
# Host header. Default: the dev server in debug, else https:// + the first allowed host.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")
if not SITE_URL:
    if DEBUG:
        SITE_URL = f"http://127.0.0.1:{env.int('PORT', default=8000)}"
    elif ALLOWED_HOSTS[0].startswith((".", "*")):
        raise ImproperlyConfigured("SITE_URL must be set when the first allowed host is a pattern.")
    else:
        SITE_URL = f"https://{ALLOWED_HOSTS[0]}"
if urlsplit(SITE_URL).scheme not in ("http", "https"):
    raise ImproperlyConfigured("SITE_URL must be an http(s) URL, e.g. https://api.example.com")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "dj_rest_auth",
    "allauth",
    "allauth.account",
    "allauth.usersessions",
    # Two-factor sign-in: its Authenticator model (TOTP, recovery codes) and MFA adapter.
    "allauth.mfa",
    # dj_rest_auth.registration imports allauth.socialaccount at load time.
    "allauth.socialaccount",
    "dj_rest_auth.registration",
    "drf_spectacular",
    # Swagger UI and Redoc as static files of our own (collectstatic), not from a CDN.
    "drf_spectacular_sidecar",
    "corsheaders",
    "csp",
    # Django 6's tasks API (backport) and its database queue: mail and housekeeping (TASKS).
    "django_tasks",
    "django_tasks_db",
    "blogapi.core",
    "blogapi.accounts",
    "blogapi.posts",
]

MIDDLEWARE = [
    # Outermost: every answer, an early refusal or an error page from any layer below, carries
    # its length, so a client that stopped sending its body knows where the answer ends.
    "blogapi.core.middleware.ContentLengthMiddleware",
    # It times everything below and logs the final status (blogapi.core.logging).
    "blogapi.core.logging.RequestLogMiddleware",
    # The request being served, for the activity feed's context (client IP, user agent, actor).
    "blogapi.core.request_context.CurrentRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response, early answers included (CONTENT_SECURITY_POLICY).
    "csp.middleware.CSPMiddleware",
    # Before anything that answers early (413, 404, redirects): browsers need CORS headers on it.
    "corsheaders.middleware.CorsMiddleware",
    # WhiteNoise: static files are answered before anything reads a session or the database.
    "blogapi.core.static.StaticFilesMiddleware",
    "blogapi.core.middleware.ControlCharacterMiddleware",
    "blogapi.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Rate-limit (429) and unavailable (503) errors raised outside DRF views, as JSON.
    "blogapi.core.exceptions.APIExceptionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Required by allauth >= 0.56; without it startup fails (dj-rest-auth#555).
    "allauth.account.middleware.AccountMiddleware",
    "blogapi.accounts.middleware.SessionActivityMiddleware",
    "blogapi.core.middleware_security.NoStoreAuthResponsesMiddleware",
]

ROOT_URLCONF = "blogapi.urls"
WSGI_APPLICATION = "blogapi.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "blogapi" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several workers on one SQLite file: WAL lets readers run beside the writer, IMMEDIATE
    # takes the write lock at BEGIN (no deadlock-prone lock upgrades), the timeout waits.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests use a file too: an in-memory test database is one connection shared by every
    # thread, so the live-server race tests would prove nothing.
    # One file per process, so simultaneous test runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"blogapi-test-{os.getpid()}.sqlite3")
    }
    # Reused across requests, as on PostgreSQL: opening one (connect, PRAGMAs, schema parse)
    # cost more than the rest of a token-authenticated read (docs/benchmarks.md).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # A reused connection the server ended (restart, idle timeout) is replaced before a request
    # uses it: Django's `SELECT 1` before the first query of each request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A stopped or unreachable server fails a request in seconds (503), not a hang.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT", default=3
    )

# --- Cache ------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis rather than Django's own Redis backend, which builds a new redis-py
            # client object for every cache call: a read answered from the cache spent ~25 % of
            # its CPU there (docs/benchmarks.md). django-redis keeps one client per server.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A dead Redis fails a request (and /readyz) in seconds instead of hanging a worker.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- E-mail -----------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
# Production refuses to start without an explicit EMAIL_URL: the development default prints every
# mail, reset and confirmation links included, to the server's output (its logs). An explicit
# consolemail:// is allowed, with a warning at start (blogapi.core.mail).
_email_url = env.str("EMAIL_URL", default="")
if not _email_url:
    if not DEBUG:
        raise ImproperlyConfigured(
            "EMAIL_URL must be set when DJANGO_DEBUG is off, e.g. "
            "smtp+tls://user:password@smtp.example.com:587 (consolemail:// prints every mail, "
            "reset links included, to the server's output)."
        )
    _email_url = "consolemail://"
_email = environ.Env.email_url_config(_email_url)
# Requests enqueue mail as a task in their own transaction (blogapi.core.mail); the worker
# delivers it through the EMAIL_URL backend: no request waits for SMTP, no SMTP failure changes
# an answer, and a web process killed after its commit loses no mail.
EMAIL_BACKEND = "blogapi.core.mail.TaskEmailBackend"
EMAIL_DELIVERY_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="blogapi <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A failed delivery is tried again after MAIL_RETRY_FIRST_DELAY, then after twice as long each
# time (at most an hour apart), until MAIL_RETRY_FOR after the mail was enqueued: then it is
# marked failed and logged.
MAIL_RETRY_FIRST_DELAY = env_duration(env, "MAIL_RETRY_FIRST_DELAY", timedelta(seconds=30))
MAIL_RETRY_FOR = env_duration(env, "MAIL_RETRY_FOR", timedelta(days=1))

# --- Background tasks -------------------------------------------------------------------------
# https://docs.djangoproject.com/en/6.0/topics/tasks/ (django-tasks backports it to 5.2)
# The queue is a table of the default database (django-tasks-db): enqueued in the same
# transaction as the change that causes it, run by `manage.py worker` (make worker).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# /readyz reports the queue as stuck when its oldest due task has waited longer than this.
TASKS_STUCK_AFTER = env_duration(env, "TASKS_STUCK_AFTER", timedelta(minutes=5))
# How long finished tasks (and sent or failed mail records) are kept before housekeeping
# deletes them.
TASKS_KEEP_FINISHED = env_duration(env, "TASKS_KEEP_FINISHED", timedelta(days=7))

# --- Authentication ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# The one backend every password check goes through (dj-rest-auth, /api-auth/, /admin/, Basic):
# allauth's (username or e-mail), with our rate limits checked before any hashing.
AUTHENTICATION_BACKENDS = ["blogapi.accounts.backends.RateLimitedAuthenticationBackend"]

# Rate limits: "count/window" (window in seconds, or with s/m/h). Override any of them with
# RATE_LIMITS="login_failures=10/600,signup_ip=5/1h". Counters live in Redis when REDIS_URL is
# set, else in the database: either way shared by every worker and server.
RATE_LIMITS = env_rate_limits(
    env,
    "RATE_LIMITS",
    {
        # Failed logins (and wrong old passwords) per account; the right password is refused too.
        "login_failures": "5/300",
        # Password checks per client IP, across accounts (credential stuffing).
        "login_ip": "30/60",
        "signup_ip": "20/3600",
        "password_reset_ip": "20/300",
        # Mails per address, so nobody can flood an inbox.
        "password_reset_address": "3/900",
        "password_reset_confirm_ip": "20/300",
        # Failed token checks per client IP (guessing is hopeless; this bounds the load).
        "token_failures_ip": "60/60",
        "verify_email_ip": "20/300",
        "resend_email_ip": "20/300",
        "resend_email_address": "3/900",
        # E-mail changes started per client IP, per account, and mails per new address.
        "email_change_ip": "20/300",
        "email_change_account": "3/900",
        "email_change_address": "3/900",
        # Account exports per account (each streams every post the account wrote).
        "account_export": "10/3600",
    },
)
# Per-IP limits count an IPv6 client by its network of this prefix length: one host usually holds
# a whole /64, so per address it would have 2^64 budgets. 128 = per address. IPv4: per address.
RATE_LIMIT_IPV6_PREFIX = env_int_between(env, "RATE_LIMIT_IPV6_PREFIX", default=64, low=1, high=128)
# Argon2id first (new hashes); the others only verify older hashes, which are then upgraded.
PASSWORD_HASHERS = [
    "blogapi.accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# NIST 800-63B / ASVS: 12 to 128 characters, no composition rules, blocklists instead.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "blogapi.accounts.validators.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "blogapi.accounts.validators.RepetitiveOrSequentialValidator"},
]
# Reset links die after an hour (Django's default is three days).
PASSWORD_RESET_TIMEOUT = 3600
LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "/api/v1/"
LOGOUT_REDIRECT_URL = "/api/v1/"

# Basic auth is off by default, as in the chapter's final settings.
AUTH_BASIC_ENABLED = env.bool("AUTH_BASIC_ENABLED", default=False)

# Per-device tokens (blogapi.accounts.models.DeviceToken): absolute lifetime, idle timeout, how
# often last-used is written (at most once per interval per token), and how many a user keeps
# (the least recently used is dropped beyond that).
AUTH_TOKEN_TTL = env_duration(env, "AUTH_TOKEN_TTL", timedelta(days=30))
AUTH_TOKEN_IDLE_TTL = env_duration(env, "AUTH_TOKEN_IDLE_TTL", timedelta(days=7))
AUTH_TOKEN_TOUCH_INTERVAL = env_duration(env, "AUTH_TOKEN_TOUCH_INTERVAL", timedelta(minutes=1))
AUTH_TOKEN_MAX_PER_USER = env_positive_int(env, "AUTH_TOKEN_MAX_PER_USER", 50)
# Browser sessions unused this long are refused at their next request and ended
# (blogapi.accounts.middleware); SESSION_COOKIE_AGE (Django's default, two weeks) stays their
# absolute lifetime. Their last use is written at most once per AUTH_TOKEN_TOUCH_INTERVAL, so a
# shorter idle timeout would refuse sessions in constant use.
AUTH_SESSION_IDLE_TTL = env_duration(env, "AUTH_SESSION_IDLE_TTL", timedelta(days=1))
if AUTH_SESSION_IDLE_TTL <= AUTH_TOKEN_TOUCH_INTERVAL:
    raise ImproperlyConfigured(
        "AUTH_SESSION_IDLE_TTL must be longer than AUTH_TOKEN_TOUCH_INTERVAL."
    )
# A deletion request (POST dj-rest-auth/delete/) erases the account this long after it, when
# `manage.py purge_deleted_accounts` next runs; any sign-in before then cancels it.
AUTH_DELETION_GRACE = env_duration(env, "AUTH_DELETION_GRACE", timedelta(days=7))
# With REDIS_URL, token and JWT family lookups are cached (blogapi.accounts.credential_cache): an
# entry is trusted for at most this long, and a revocation that cannot reach Redis waits this long
# before answering, so that no entry cached before it is served afterwards. Whole seconds.
AUTH_CREDENTIAL_CACHE_TTL = env_duration(env, "AUTH_CREDENTIAL_CACHE_TTL", timedelta(seconds=5))
# With REDIS_URL, post reads (list pages, details) are cached (blogapi.posts.read_cache) under a
# version every post write replaces; the version lives this long, which bounds how stale an
# answer can be after a write made while Redis was unreachable. Whole seconds.
POSTS_CACHE_TTL = env_duration(env, "POSTS_CACHE_TTL", timedelta(seconds=5))
# The security activity feed (blogapi.accounts.services.activity) keeps each row this long;
# The task worker deletes older ones every six hours (`manage.py purge_activity` on demand).
AUTH_ACTIVITY_RETENTION = env_duration(env, "AUTH_ACTIVITY_RETENTION", timedelta(days=180))

# JWT sign-in (blogapi.accounts.jwt, README "JWT sign-in"): off by default, the book's opaque keys.
# Access tokens are short JWTs; refresh tokens are random secrets of a family that rotates at
# every refresh and lives like a device token (AUTH_TOKEN_TTL, AUTH_TOKEN_IDLE_TTL).
AUTH_JWT = env_flag(env, "AUTH_JWT", default=False)
AUTH_JWT_COOKIES = env_flag(env, "AUTH_JWT_COOKIES", default=False)
AUTH_JWT_ACCESS_TTL = env_duration(env, "AUTH_JWT_ACCESS_TTL", timedelta(minutes=5))
AUTH_JWT_REUSE_GRACE = env_duration(env, "AUTH_JWT_REUSE_GRACE", timedelta(seconds=10))
AUTH_JWT_SIGNING_KEY = env.str("AUTH_JWT_SIGNING_KEY", default="")
AUTH_JWT_PREVIOUS_SIGNING_KEYS = [
    key for key in env.list("AUTH_JWT_PREVIOUS_SIGNING_KEYS", default=[]) if key
]
if AUTH_JWT_COOKIES and not AUTH_JWT:
    raise ImproperlyConfigured("AUTH_JWT_COOKIES=true needs AUTH_JWT=true.")
if not AUTH_JWT_SIGNING_KEY:
    if AUTH_JWT and not DEBUG:
        raise ImproperlyConfigured("AUTH_JWT_SIGNING_KEY must be set when AUTH_JWT is on.")
    # Development only: a key of its own, derived so that it is not the session's secret itself.
    AUTH_JWT_SIGNING_KEY = hashlib.sha256(f"jwt-signing:{SECRET_KEY}".encode()).hexdigest()
for _jwt_key in (AUTH_JWT_SIGNING_KEY, *AUTH_JWT_PREVIOUS_SIGNING_KEYS):
    if len(_jwt_key) < 32:
        # HS256 wants a key at least as long as its 256-bit output (RFC 7518, section 3.2).
        raise ImproperlyConfigured("JWT signing keys must be at least 32 characters long.")

# --- django-allauth (65.x setting names: no deprecation warnings) -----------------------------
# https://docs.allauth.org/en/latest/account/configuration.html
ACCOUNT_ADAPTER = "blogapi.accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
if ACCOUNT_EMAIL_VERIFICATION not in ("none", "optional", "mandatory"):
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be none, optional or mandatory.")
# Mail scanners follow links: a GET must never confirm (allauth#1522).
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[blogapi] "
ACCOUNT_PREVENT_ENUMERATION = True
# Security notices (password changed, password reset) to the account's address.
ACCOUNT_EMAIL_NOTIFICATIONS = True
# https://docs.allauth.org/en/latest/mfa/configuration.html: TOTP, recovery codes and passkeys
# (WebAuthn). Codes of 30 s, no tolerance step, as allauth's defaults.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = "blogapi"
# Encrypts TOTP secrets at rest (allauth's adapter stores them in clear).
MFA_ADAPTER = "blogapi.accounts.adapters.MfaAdapter"
# Fernet keys for the TOTP secrets (blogapi.accounts.mfa_encryption): the first encrypts, every one
# decrypts, so a new key goes first and `manage.py rotate_mfa_keys` re-encrypts (README). Unset:
# one key derived from DJANGO_SECRET_KEY, so a database leak alone gives no second factor away.
# The default key's HKDF label: a key of its own, not the session's secret itself.
AUTH_MFA_KEY_DERIVATION_LABEL = "blogapi.accounts.mfa-secrets"
AUTH_MFA_ENCRYPTION_KEYS = env_fernet_keys(
    env,
    "AUTH_MFA_ENCRYPTION_KEYS",
    default=derived_fernet_key(SECRET_KEY, purpose=AUTH_MFA_KEY_DERIVATION_LABEL),
)

# Passkeys: the relying party (a domain, never an IP: browsers refuse those) and the exact origins
# whose pages may use them. Defaults: FRONTEND_URL's host and origin, else this API's own
# (`localhost` in debug, as browsers treat http://localhost as a secure context). A default that
# cannot work (an IP address) leaves passkeys off; values set by env are checked, fail fast.
_webauthn_site = urlsplit(FRONTEND_URL or SITE_URL)
if DEBUG and not FRONTEND_URL:
    _webauthn_site = urlsplit(f"http://localhost:{env.int('PORT', default=8000)}")
AUTH_WEBAUTHN_RP_ID = env.str("AUTH_WEBAUTHN_RP_ID", default="").strip().lower()
AUTH_WEBAUTHN_ORIGINS: list[str] = [
    origin.strip().rstrip("/") for origin in env.list("AUTH_WEBAUTHN_ORIGINS", default=[])
]
AUTH_WEBAUTHN_RP_NAME = env.str("AUTH_WEBAUTHN_RP_NAME", default="blogapi")
if (
    not AUTH_WEBAUTHN_RP_ID
    and not AUTH_WEBAUTHN_ORIGINS
    and is_ip_address(_webauthn_site.hostname or "")
):
    AUTH_WEBAUTHN_RP_ID = ""  # passkeys off: the endpoints say how to turn them on
else:
    AUTH_WEBAUTHN_RP_ID = AUTH_WEBAUTHN_RP_ID or (_webauthn_site.hostname or "")
    AUTH_WEBAUTHN_ORIGINS = AUTH_WEBAUTHN_ORIGINS or [
        f"{_webauthn_site.scheme}://{_webauthn_site.netloc}"
    ]
    try:
        webauthn_settings_check(rp_id=AUTH_WEBAUTHN_RP_ID, origins=AUTH_WEBAUTHN_ORIGINS)
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from None

# --- dj-rest-auth -----------------------------------------------------------------------------
# https://dj-rest-auth.readthedocs.io/en/latest/configuration.html
REST_AUTH = {
    "TOKEN_MODEL": "blogapi.accounts.models.DeviceToken",
    "TOKEN_CREATOR": "blogapi.accounts.services.credentials.device_token_create_for_login",
    "TOKEN_SERIALIZER": "blogapi.accounts.serializers.TokenOutputSerializer",
    "LOGIN_SERIALIZER": "blogapi.accounts.serializers.LoginInputSerializer",
    "PASSWORD_CHANGE_SERIALIZER": "blogapi.accounts.serializers.PasswordChangeSerializer",
    "PASSWORD_RESET_CONFIRM_SERIALIZER": (
        "blogapi.accounts.serializers.PasswordResetConfirmSerializer"
    ),
    "PASSWORD_RESET_SERIALIZER": "blogapi.accounts.serializers.PasswordResetSerializer",
    "REGISTER_SERIALIZER": "blogapi.accounts.serializers.RegisterInputSerializer",
    "USER_DETAILS_SERIALIZER": "blogapi.accounts.serializers.UserDetailsSerializer",
    "OLD_PASSWORD_FIELD_ENABLED": True,
    "LOGOUT_ON_PASSWORD_CHANGE": False,
    "SESSION_LOGIN": True,
}

# --- Django REST framework --------------------------------------------------------------------
# Token first: its authenticate_header makes unauthenticated requests answer 401 with
# `WWW-Authenticate: Token` instead of Session's 403.
_authentication_classes = [
    "blogapi.accounts.authentication.DeviceTokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
if AUTH_JWT:
    # First, so that a request without credentials is told the scheme the login issues.
    _authentication_classes.insert(0, "blogapi.accounts.authentication.JwtAuthentication")
if AUTH_BASIC_ENABLED:
    _authentication_classes.append("blogapi.accounts.authentication.BasicCredentialsAuthentication")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": _authentication_classes,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["blogapi.accounts.throttles.ClientIPRateThrottle"],
    "EXCEPTION_HANDLER": "blogapi.core.exceptions.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "blogapi.core.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "blogapi.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# --- OpenAPI ----------------------------------------------------------------------------------
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "blogapi",
    "DESCRIPTION": "The Blog API of Django for APIs: posts, users and authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The activity feed's enums, named for it rather than for its generic field names.
    "ENUM_NAME_OVERRIDES": {
        "ActivityEventEnum": "blogapi.accounts.services.activity.FEED_EVENTS",
        "ActivityActorEnum": "blogapi.accounts.models.AccountActivity.Actor",
        # The probes' `"status": "ok"`, shared by /healthz and /readyz: one enum, one name.
        "ProbeOkEnum": ["ok"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "blogapi.core.schema.add_error_responses",
    ],
    # The docs pages load Swagger UI and Redoc from our static files: a CDN script would run on
    # the session cookie's origin, unpinned and unchecked (and the CSP below forbids it).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Static files, i18n -----------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
# The API takes small JSON bodies; anything larger answers 413 (blogapi.core.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# https://whitenoise.readthedocs.io/en/stable/django.html
# Served by WhiteNoise (gzip/brotli copies made by collectstatic). No manifest storage: it fails
# every page that names a static file until collectstatic has run, which tests never do.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- CORS -------------------------------------------------------------------------------------
# https://github.com/adamchainz/django-cors-headers#configuration
# Front-end origins (scheme://host[:port]) allowed to call /api/ from a browser, cookies
# included; every other origin gets no CORS headers, so browsers refuse to share responses.
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
for _origin in CORS_ALLOWED_ORIGINS:
    _parts = urlsplit(_origin)
    if _parts.scheme not in ("http", "https") or not _parts.netloc or _parts.path or _parts.query:
        raise ImproperlyConfigured(
            f"CORS_ALLOWED_ORIGINS entries are scheme://host[:port], not {_origin!r}."
        )
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID"]

# --- Security ---------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security


# https://django-csp.readthedocs.io/en/latest/configuration.html
# One policy on every response: HTML pages (browsable API, docs pages, our mailed-link pages,
# admin) may run scripts only from this origin, and no page may be framed. django-csp rather than
# a middleware of ours: Django 5.2 has no CSP of its own, and the library is a setting plus one
# middleware, with nonces and per-view overrides should a page ever need them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # No 'unsafe-inline' or 'unsafe-eval': Swagger UI's init script is a file of its own
        # (drf-spectacular's SpectacularSwaggerSplitView), Redoc's page has no inline script.
        "script-src": [SELF],
        # Inline styles only (the browsable API, Swagger UI, Redoc and our pages use them); CSS
        # cannot run script.
        "style-src": [SELF, UNSAFE_INLINE],
        # Swagger UI's and Redoc's icons are data: URIs.
        "img-src": [SELF, "data:"],
        # Redoc's search runs in a worker built from a blob: URL of its own script.
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Not HttpOnly: a front-end's script reads this cookie to send X-CSRFToken.
CSRF_COOKIE_HTTPONLY = False
CSRF_COOKIE_SAMESITE = "Lax"
# The CORS front-ends by default: their session-authenticated POSTs must pass the CSRF check.
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=CORS_ALLOWED_ORIGINS)

# Production is HTTPS only. Each knob is for plain-HTTP test or internal deployments; turning one
# off silences only its own deploy check, so `check --deploy` still guards the rest.
SILENCED_SYSTEM_CHECKS: list[str] = []
if DEBUG:
    SECURE_SSL_REDIRECT = False
    SECURE_HSTS_SECONDS = 0
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
else:
    SECURE_SSL_REDIRECT = env_flag(env, "DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_count(env, "DJANGO_HSTS_SECONDS", default=365 * 24 * 60 * 60)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_flag(
        env, "DJANGO_SECURE_COOKIES", default=True
    )
    if not SECURE_SSL_REDIRECT:
        SILENCED_SYSTEM_CHECKS.append("security.W008")  # the operator chose to serve plain HTTP
    if not SECURE_HSTS_SECONDS:
        SILENCED_SYSTEM_CHECKS.append("security.W004")  # the operator chose no HSTS
    if not SESSION_COOKIE_SECURE:
        # The operator chose cookies that also travel over plain HTTP.
        SILENCED_SYSTEM_CHECKS += ["security.W012", "security.W016"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# No preload: it binds every subdomain of the registrable domain to HTTPS for months, cannot be
# undone quickly, and only the apex domain's owner can submit it; the API host does not decide that.
SECURE_HSTS_PRELOAD = False
SILENCED_SYSTEM_CHECKS.append("security.W021")
# Load balancers probe over plain HTTP; a redirect would read as a failed probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Reverse proxies in front of the app that we run (0: clients connect directly). They must
# overwrite X-Forwarded-Proto and append to X-Forwarded-For, or a client could forge either.
TRUSTED_PROXY_COUNT = env_count(env, "TRUSTED_PROXY_COUNT", default=0)
# allauth's client-IP rule (rate limits; blogapi.core.clients.client_ip) reads X-Forwarded-For.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ----------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/logging/
# One JSON object per line on stderr (LOG_FORMAT=text for a terminal); formatters redact the
# secrets mailed links carry in their paths (blogapi.core.logging).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "blogapi.core.logging.RedactingJsonFormatter"},
        "text": {"()": "blogapi.core.logging.RedactingTextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request log and auth events are always written, whatever LOG_LEVEL says.
        "blogapi.request": {"level": "INFO"},
        "blogapi.auth": {"level": "INFO"},
        # Django's own handlers (console in debug, mail to ADMINS) are replaced by the root's, so
        # every line is formatted and redacted alike.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # Their DEBUG lines dump template contexts (mailed keys, links, addresses) and SQL
        # parameters (session keys, token digests): never below INFO, whatever LOG_LEVEL says.
        "django.template": {"level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        # runserver's access lines repeat blogapi.request's, with query strings: 4xx/5xx only.
        "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
