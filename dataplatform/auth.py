"""Per-request sign-in lookups (session, session user, API token, roles) as prepared SQL.

Every dashboard request and API call loads the signed-in user and, right after, their roles
(permissions, throttle rate, the role shown in the header). Built through the ORM these are
three small queries whose Python-side compilation costs ~0.4 ms each, more than SQLite takes
to answer them (~0.05 ms); written once as SQL they cost ~0.05 ms each. Table and column
names come from the models' `_meta`, so custom user models and other databases still work.

Nothing is cached across requests: a removed role or a deactivated user takes effect on the
next request."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connections, router
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from dataplatform import roles


def _quote(name: str, alias: str) -> str:
    return str(connections[alias].ops.quote_name(name))


@cache
def _select(model: Any, alias: str, key_column: str) -> tuple[str, list[str]]:
    """`SELECT <every concrete column> FROM <table> WHERE <key_column> = %s` and the attribute
    names in column order (what Model.from_db wants)."""
    fields = model._meta.concrete_fields
    columns = ", ".join(_quote(f.column, alias) for f in fields)
    table, key = _quote(model._meta.db_table, alias), _quote(key_column, alias)
    # Identifiers from model metadata, quoted by the backend; the key value is a parameter.
    sql = f"SELECT {columns} FROM {table} WHERE {key} = %s"  # noqa: S608
    return sql, [f.attname for f in fields]


def fetch_by(model: Any, key_column: str, key: Any) -> Any:
    """The instance of `model` whose `key_column` equals `key`, or None."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    sql, names = _select(model, alias, key_column)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    # What the ORM would apply: dates and booleans come back as text/integers from SQLite.
    values = list(row)
    for index, field in enumerate(model._meta.concrete_fields):
        expression = field.get_col(model._meta.db_table)
        for step in connection.ops.get_db_converters(expression) + field.get_db_converters(connection):
            values[index] = step(values[index], expression, connection)
    return model.from_db(alias, names, values)


@cache
def _roles_sql(alias: str) -> str:
    user_model = get_user_model()
    through = user_model._meta.get_field("groups").remote_field.through._meta
    group_table = _quote(Group._meta.db_table, alias)
    link = _quote(through.db_table, alias)
    group_fk = _quote(through.get_field("group").column, alias)
    user_fk = _quote(through.get_field("user").column, alias)
    name = _quote(Group._meta.get_field("name").column, alias)
    group_pk = _quote(Group._meta.pk.column, alias)
    # Identifiers from model metadata, quoted by the backend; the user id is a parameter.
    return f"SELECT g.{name} FROM {group_table} g JOIN {link} l ON l.{group_fk} = g.{group_pk} WHERE l.{user_fk} = %s"  # noqa: S608


def load_roles(user: Any) -> frozenset[str]:
    """The role groups of `user`, read with one query and kept for the rest of the request."""
    alias = router.db_for_read(Group)
    with connections[alias].cursor() as cursor:
        cursor.execute(_roles_sql(alias), [user.pk])
        names = [row[0] for row in cursor.fetchall()]
    return roles.remember_roles(user, names)


class RoleAwareModelBackend(ModelBackend):
    """ModelBackend whose per-request user lookup (session sign-in) is one prepared query."""

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            key = user_model._meta.pk.to_python(user_id)
        except (ValidationError, TypeError, ValueError):  # a tampered session value: no user
            return None
        user = fetch_by(user_model, user_model._meta.pk.column, key)
        return user if user is not None and self.user_can_authenticate(user) else None


class RoleAwareTokenAuthentication(TokenAuthentication):
    """TokenAuthentication (`Authorization: Token <key>`) with prepared lookups."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = fetch_by(Token, Token._meta.pk.column, key)
        user = fetch_by(get_user_model(), get_user_model()._meta.pk.column, token.user_id) if token else None
        if token is None or user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.user = user
        return user, token
