from django.apps import AppConfig


class DataplatformConfig(AppConfig):
    name = "dataplatform"
    verbose_name = "Run Monitor"
