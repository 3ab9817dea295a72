"""Staff roles as Django groups. Finance owns money (settlements, journals, refunds), operations
owns stock, returns and shipments, admin owns configuration and can do everything."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db.models import Q
from django.db.models.signals import post_migrate
from django.dispatch import receiver

ROLES = ("finance", "operations", "admin")

# App labels whose model permissions each role gets in the admin.
_ROLE_APPS: dict[str, dict[str, tuple[str, ...]]] = {
    "finance": {
        "view": ("core", "orders", "inventory", "settlements", "returns", "journals"),
        "change": ("settlements", "journals", "core"),
    },
    "operations": {
        "view": ("core", "orders", "inventory", "returns"),
        "change": ("inventory", "returns", "orders", "core"),
    },
}


# Who may let a channel in, and with what: the admin role alone changes these (finance and
# operations may look), and nobody deletes them, since history hangs off them: a channel is
# deactivated, a token revoked. The ModelAdmins check the role too (a superuser has every
# permission whatever the groups say).
ADMIN_ONLY_MODELS = (("core", "channel"), ("core", "legalentity"), ("core", "apitoken"))


def _admin_only() -> Q:
    models = Q()
    for app_label, model in ADMIN_ONLY_MODELS:
        models |= Q(content_type__app_label=app_label, content_type__model=model)
    return models


def user_roles(user: Any) -> set[str]:
    if getattr(user, "is_superuser", False):
        return set(ROLES)
    cached = getattr(user, "_retailsync_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._retailsync_roles = cached
    return cached


def has_role(user: AbstractBaseUser | Any, *roles: str) -> bool:
    return bool(user and user.is_authenticated and user_roles(user) & {*roles, "admin"})


def roles_ensure() -> None:
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == "admin":
            group.permissions.set(
                Permission.objects.exclude(_admin_only() & Q(codename__startswith="delete_"))
            )
            continue
        wanted = Permission.objects.none()
        for action, apps in _ROLE_APPS[role].items():
            actions = ("view",) if action == "view" else ("add", "change", "view")
            wanted = wanted | Permission.objects.filter(
                content_type__app_label__in=apps, codename__regex=rf"^({'|'.join(actions)})_"
            )
        group.permissions.set(wanted.exclude(_admin_only() & ~Q(codename__startswith="view_")))


@receiver(post_migrate)
def _roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # Once per migrate, after the last app's permissions exist.
    from django.apps import apps

    if sender is list(apps.get_app_configs())[-1]:
        roles_ensure()
