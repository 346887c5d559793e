SECRET_KEY = "sample only"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "sampleapp"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
