"""SESSION_ENGINE for sessions read from a shared cache first, the database second."""

from django.contrib.sessions.backends import cached_db

from dataplatform.sessions import PreparedSessionRead


class SessionStore(PreparedSessionRead, cached_db.SessionStore):
    pass
