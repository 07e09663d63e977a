from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    """Dataset pages and API: the registry and each dataset's calendar."""

    name = "dataplatform.datasets"
    label = "datasets"
