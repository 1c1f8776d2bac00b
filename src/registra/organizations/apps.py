from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "registra.organizations"
    label = "organizations"
