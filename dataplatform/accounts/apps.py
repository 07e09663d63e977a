from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Roles (Django groups), the role migration and the user commands.

    The label stays "dataplatform": databases made before the move have migration
    ("dataplatform", "0001_roles") applied, and the migration keeps that record."""

    name = "dataplatform.accounts"
    label = "dataplatform"
    verbose_name = "Run Monitor accounts"
