"""LeadFlow settings: every value comes from the environment (README, "Configuration").

With no variables set this is the embedded default of docs/architecture.md, "Runtime": SQLite and
the Celery filesystem broker under ``var/``, mail written to ``var/mail/``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF

from leadflow.lib import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.string("VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env.boolean("DEBUG", False)


def _secret_key() -> str:
    if env.is_set("SECRET_KEY"):
        return env.string("SECRET_KEY", "")
    if not DEBUG and env.boolean("REQUIRE_SECRET_KEY", False):
        raise env.ConfigurationError("SECRET_KEY must be set in production (REQUIRE_SECRET_KEY=1)")
    # The embedded default keeps a random key per checkout so sessions survive
    # restarts without any secret ever being committed.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "leadflow.tenancy",
    "leadflow.outbox",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "csp",
    "inquiries",
    "leads",
    "nurture",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "leadflow.tenancy.middleware.TenantMiddleware",
    "leadflow.tenancy.idempotency.IdempotencyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "leadflow.urls"
WSGI_APPLICATION = "leadflow.wsgi.application"
AUTH_USER_MODEL = "tenancy.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leadflow.tenancy.context_processors.tenancy",
            ],
            # |when, |day and |person: one way to show a moment and a person everywhere.
            "builtins": ["leadflow.tenancy.templatetags.display"],
        },
    },
]

# --- Databases -------------------------------------------------------------
# DATABASE_URL is the runtime connection: on PostgreSQL a role that is neither
# superuser, table owner nor BYPASSRLS, so row-level security applies to it.
# DATABASE_OWNER_URL (optional) is the role that owns the tables; `migrate`
# runs as that role (alias "owner") and grants the runtime role its rights.
# DATABASE_POOLER names what sits between the processes and PostgreSQL: a
# pooler in transaction mode hands each transaction any server connection, so
# a cursor that outlives its transaction (Django's server-side cursors of
# .iterator()) must not be used (docs/scaling.md, "PgBouncer").
DATABASE_POOLER = env.choice(
    "DATABASE_POOLER", "none", ("none", "pgbouncer-session", "pgbouncer-transaction")
)


def _database(name: str, default: str) -> dict:
    config = env.database(name, default)
    if config["ENGINE"] in {
        "django.db.backends.postgresql",
        "django.db.backends.postgresql_psycopg2",
    }:
        config["ENGINE"] = "leadflow.tenancy.backends.postgresql"
        config["CONN_MAX_AGE"] = env.integer("DATABASE_CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
        config["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_POOLER == "pgbouncer-transaction"
    elif DATABASE_POOLER != "none":
        raise env.ConfigurationError(
            f"DATABASE_POOLER={DATABASE_POOLER} needs a postgres:// {name}"
        )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Web, worker and beat share one file: WAL and IMMEDIATE transactions
        # turn "database is locked" errors into short waits.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    config.setdefault("TEST", {})
    return config


DATABASES = {"default": _database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'leadflow.sqlite3'}")}
if env.is_set("DATABASE_OWNER_URL"):
    DATABASES["owner"] = _database("DATABASE_OWNER_URL", "")
    # In tests the owner creates and migrates the test database; the runtime
    # role then uses that same database.
    DATABASES["default"]["TEST"]["MIRROR"] = "owner"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, email ----------------------------------------------------
REDIS_URL = env.string("REDIS_URL", "")
CACHE_KEY_PREFIX = env.string("CACHE_KEY_PREFIX", "leadflow")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    # A file cache is shared by every process of `make run`, so throttling holds.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    # kombu's filesystem transport expects its folders to exist in every process.
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if REDIS_URL
    else {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "purge-expired-idempotency-keys": {
        "task": "leadflow.tenancy.tasks.purge_expired_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    # Background jobs (the kinds apps register) whose worker died or whose message was lost.
    "resume-stalled-jobs": {
        "task": "leadflow.lib.job_tasks.resume_stalled_jobs",
        "schedule": timedelta(minutes=5),
    },
    # Outbox messages that fell due (retries, scheduled sends) or whose dispatcher died;
    # messages due at once are also kicked right after their transaction commits.
    "dispatch-outbox": {
        "task": "leadflow.outbox.tasks.dispatch_due_messages",
        "schedule": timedelta(seconds=env.integer("OUTBOX_BEAT_SECONDS", 5, minimum=1)),
    },
    # Leads awaiting acceptance past their window: breached, managers alerted once.
    "scan-acceptance-breaches": {
        "task": "leads.tasks.scan_acceptance_breaches",
        "schedule": timedelta(minutes=15),
    },
    # Postponed leads whose date came: back into the owner's week (or to nurture).
    "return-postponed-leads": {
        "task": "leads.tasks.return_postponed_leads",
        "schedule": timedelta(hours=1),
    },
    # Monday 07:00 in each tenant's zone (hourly, so every zone is met; the outbox key
    # keeps it to one email per owner and week): the leads still owing this week's update.
    "queue-missing-update-digests": {
        "task": "leads.tasks.queue_missing_update_digests",
        "schedule": timedelta(hours=1),
    },
    # The partners' reporting rule (issue 17): warn after K-1 missed weeks, suspend after K,
    # reinstate once reported. Hourly, so each tenant's week boundary is met within the hour.
    "enforce-partner-compliance": {
        "task": "leads.tasks.enforce_partner_compliance",
        "schedule": timedelta(hours=1),
    },
    # The Monday report (issue 21): hourly, so each tenant's Monday hour in its own zone is
    # met; the report's unique week makes a second run make and send nothing.
    "generate-weekly-reports": {
        "task": "reporting.weekly.tasks.generate_weekly_reports",
        "schedule": timedelta(hours=1),
    },
}
# Dashboards (issue 22): roll up what changed since each tenant's watermark, every minute.
CELERY_BEAT_SCHEDULE["refresh-dashboard-rollups"] = {
    "task": "reporting.dashboards.tasks.refresh_rollups",
    "schedule": timedelta(seconds=env.integer("ROLLUP_BEAT_SECONDS", 60, minimum=1)),
}
CELERY_BEAT_SCHEDULE |= {
    # Nurture (issue 19): due steps become outbox messages every minute; hourly, the
    # never-dropped sweep enrolls (and logs) any nurture inquiry found in no program.
    "run-nurture": {
        "task": "nurture.tasks.run_nurture",
        "schedule": timedelta(minutes=1),
    },
    "enroll-dropped-nurture": {
        "task": "nurture.tasks.enroll_dropped",
        "schedule": timedelta(hours=1),
    },
}
# The outbox (docs/architecture.md, "The outbox"): a claimed message is the claiming
# run's for OUTBOX_LEASE_SECONDS; a run stops claiming-and-sending before its lease ends.
OUTBOX_LEASE_SECONDS = env.integer("OUTBOX_LEASE_SECONDS", 120, minimum=1)
OUTBOX_MAX_ATTEMPTS = env.integer("OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
OUTBOX_BACKOFF_BASE_SECONDS = env.integer("OUTBOX_BACKOFF_BASE_SECONDS", 30, minimum=1)
OUTBOX_BACKOFF_MAX_SECONDS = env.integer("OUTBOX_BACKOFF_MAX_SECONDS", 6 * 3600, minimum=1)
OUTBOX_WEBHOOK_TIMEOUT_SECONDS = env.integer("OUTBOX_WEBHOOK_TIMEOUT_SECONDS", 15, minimum=1)
# The right-hand side of every email's Message-ID; empty: the domain of DEFAULT_FROM_EMAIL.
OUTBOX_MESSAGE_ID_DOMAIN = env.string("OUTBOX_MESSAGE_ID_DOMAIN", "")

if env.is_set("EMAIL_URL"):
    _email = env.email("EMAIL_URL", "")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    for _key, _value in _email.items():
        globals()[_key] = _value
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "LeadFlow <leadflow@localhost>")
# Where people reach LeadFlow (e.g. https://leads.example.com): links in emails
# start with it. Unset, a link is built from the address the inviting request used.
SITE_URL = env.string("SITE_URL", "").rstrip("/")
if SITE_URL and not SITE_URL.startswith(("http://", "https://")):
    raise env.ConfigurationError(f"SITE_URL must start with http:// or https://, got {SITE_URL!r}")
INVITATION_TTL = timedelta(days=env.integer("INVITATION_TTL_DAYS", 7, minimum=1))

# --- Auth and security -------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.integer("AXES_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("AXES_COOLOFF_MINUTES", 15, minimum=1))
# One list inside the list: failures are counted per username *and* address
# together. Two separate entries would lock every account from an address
# after one account's failures, and behind the proxy every client at once.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_ENABLED = env.boolean("AXES_ENABLED", True)
BEHIND_TLS_PROXY = env.boolean("BEHIND_TLS_PROXY", False)


def axes_client_address(*, behind_tls_proxy: bool) -> dict:
    """django-axes' (and django-ipware's) settings for the address a failure is counted on.

    Directly exposed, ``REMOTE_ADDR`` is the client and ``X-Forwarded-For`` is
    whatever the client wrote, so it is ignored. Behind the TLS proxy
    ``REMOTE_ADDR`` is the proxy, which appends the address it received the
    request from to ``X-Forwarded-For``: the right-most entry is the client.
    django-ipware counts the proxies *inside* the header, so that is a count of
    0, and non-strict so a client's own (forged) entries to the left are
    skipped instead of making the whole header fall back to the proxy address.
    """
    if not behind_tls_proxy:
        return {"AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",)}
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_ORDER": "left-most",
        "AXES_IPWARE_PROXY_COUNT": 0,
        "IPWARE_STRICT": False,
    }


globals().update(axes_client_address(behind_tls_proxy=BEHIND_TLS_PROXY))

SECURE_COOKIES = env.boolean("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Bodies past this size get a 400 before any view reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
# Uploaded files (CSV imports) past FILE_UPLOAD_MAX_MEMORY_SIZE are streamed to a temporary
# file, never held in memory; an import is kept under IMPORTS_ROOT until its job ends.
IMPORTS_ROOT = Path(env.string("IMPORTS_ROOT", str(VAR_DIR / "imports"))).resolve()
IMPORT_MAX_BYTES = env.integer("IMPORT_MAX_MEGABYTES", 200, minimum=1) * 1024 * 1024
# An upload never started is cancelled, and its file removed, after this many days.
IMPORT_UNSTARTED_DAYS = env.integer("IMPORT_UNSTARTED_DAYS", 7, minimum=1)

# --- API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leadflow.tenancy.authentication.BearerAuthentication",
        "leadflow.tenancy.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["leadflow.tenancy.permissions.IsTenantCaller"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["leadflow.lib.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "leadflow.lib.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["leadflow.tenancy.throttling.CallerRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"caller": env.string("API_THROTTLE_RATE", "1200/min")},
    "DEFAULT_SCHEMA_CLASS": "leadflow.lib.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "leadflow.lib.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeadFlow API",
    "DESCRIPTION": "Inquiries, leads and weekly outcomes for one tenant. "
    "Authenticate with `Authorization: Bearer <user token or partner API key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation's error answers, in the one error shape (leadflow/lib/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "leadflow.lib.openapi.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PartnerKindEnum": "leadflow.tenancy.models.PartnerKind",
        "CustomFieldKindEnum": "inquiries.models.CustomFieldKind",
        "RecordableActivityKindEnum": "inquiries.models.RECORDABLE_ACTIVITY_KINDS",
        "InquiryStageEnum": "inquiries.models.Stage",
        "LeadStageEnum": "leads.models.LeadStage",
        "JobStatusEnum": "inquiries.models.RescoreStatus",
        "BulkJobStatusEnum": "inquiries.models.BulkStatus",
        "ImportOutcomeEnum": "inquiries.models.ImportOutcome",
        "RowProblemSeverityEnum": "inquiries.models.RowProblem",
        "TouchKindEnum": "leads.models.TouchKind",
        "TouchOutcomeEnum": "leads.models.TouchOutcome",
        "UpdateStatusEnum": "leads.models.UpdateStatus",
        "RejectKindEnum": "leads.models.RejectKind",
        # Nurture (issue 19): its consent values are the capture's.
        "ConsentEnum": "inquiries.models.Consent",
        "NurtureConsentSourceEnum": "nurture.models.RECORDABLE_CONSENT_SOURCES",
        "SourceEnum": "inquiries.models.Source",
        # Nurture's double opt-in: a contact's consent may also be pending (read only).
        "NurtureConsentStatusEnum": "nurture.models.ConsentStatus",
        # Nurture's program builder (issue 20): a step's kind, in and out.
        "NurtureStepKindEnum": "nurture.models.StepKind",
    },
}
IDEMPOTENCY_KEY_TTL = timedelta(hours=env.integer("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24))
# A claim whose request never finished (the process died) may be taken over after this.
IDEMPOTENCY_LOCK_TIMEOUT = timedelta(seconds=env.integer("IDEMPOTENCY_LOCK_SECONDS", 60, minimum=1))

# --- I18N, static ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The server's zone; a page runs in its viewer's (leadflow.tenancy.middleware).
TIME_ZONE = "UTC"
FORMAT_MODULE_PATH = ["leadflow.formats"]
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Partner webhooks (issue 18). FOR DEVELOPMENT ONLY: also allow http:// and loopback
# targets, so a partner can point at a receiver on the developer's machine. Off, webhooks
# go to public https addresses only (leadflow/outbox/ssrf.py).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.boolean("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)

# Nurture (issue 19): Mailgun's webhook signing key (its control panel, "Webhook signing
# key") verifies the bounce and complaint webhook; empty: every webhook request is refused.
MAILGUN_WEBHOOK_SIGNING_KEY = env.string("MAILGUN_WEBHOOK_SIGNING_KEY", "")
# The nurture scheduler's beat interval (bench/nurture_chaos.py runs it every few seconds).
CELERY_BEAT_SCHEDULE["run-nurture"]["schedule"] = timedelta(
    seconds=env.integer("NURTURE_BEAT_SECONDS", 60, minimum=1)
)
