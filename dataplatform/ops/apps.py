from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Pipeline-wide operator commands (sync_tables, load_demo, simulate): they belong to no
    one app, and the plumbing apps (api, web, accounts) must not grow commands that drive the core."""

    name = "dataplatform.ops"
    label = "ops"
