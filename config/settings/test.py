"""Test settings: the web process's settings (a superset of the others' routes are tested by
switching URLconfs), with fast password hashing."""

from config.settings.web import *  # noqa: F403

SERVICE = "test"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# whitenoise serves from STATIC_ROOT; tests do not run collectstatic, so find files in the apps.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# Query issue: puppetboard/pypuppetdb tests read the PuppetDB API without a token.
PUPPETDB_API_ALLOW_ANONYMOUS = True
