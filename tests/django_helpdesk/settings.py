# A throwaway Django project around django-helpdesk, for
# tests/tests/django_helpdesk.rs only: SQLite in the project's directory,
# DEBUG on, a fixed secret key. Never deploy this.
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "belfry-tests-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.admin",
    "django.contrib.humanize",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BELFRY_DJANGO_DB", os.path.join(BASE_DIR, "db.sqlite3")),
    }
}
SITE_ID = 1
USE_TZ = True
STATIC_URL = "/static/"
LOGIN_URL = "/helpdesk/login/"
# pinax-teams is not installed (the measured set-up).
HELPDESK_TEAMS_MODE_ENABLED = False
# Mail goes nowhere.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
