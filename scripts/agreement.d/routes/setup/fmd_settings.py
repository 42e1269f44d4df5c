# django-fmd's production settings with SERVE_FILES on, as its shipped local settings have it
# (those also need the dev-only `manage_django_project` package).
from findmydevice_project.settings.prod import *  # noqa: F401,F403

SERVE_FILES = True
