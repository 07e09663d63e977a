"""SESSION_ENGINE for sessions kept in the database only."""

from django.contrib.sessions.backends import db

from dataplatform.sessions import PreparedSessionRead


class SessionStore(PreparedSessionRead, db.SessionStore):
    pass
