"""Django's admin app with Run Monitor's site (superusers only, throttled sign-in) as default.

A module of its own: INSTALLED_APPS imports it before the apps are ready, so it must not import
forms or models (the site class is loaded by name later)."""

from django.contrib.admin.apps import AdminConfig


class RunMonitorAdminConfig(AdminConfig):
    default_site = "dataplatform.accounts.admin_site.RunMonitorAdminSite"
