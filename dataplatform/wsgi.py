import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve with settings that only work locally.
from dataplatform.web.checks import refuse_unsafe_production  # noqa: E402

refuse_unsafe_production()
