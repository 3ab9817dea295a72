"""Staff roles as Django groups. Finance owns money (settlements, journals, refunds), operations
owns stock, returns and shipments, admin owns configuration and can do everything."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
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
            group.permissions.set(Permission.objects.all())
            continue
        wanted = Permission.objects.none()
        for action, apps in _ROLE_APPS[role].items():
            actions = ("view",) if action == "view" else ("add", "change", "view")
            wanted = wanted | Permission.objects.filter(
                content_type__app_label__in=apps, codename__regex=rf"^({'|'.join(actions)})_"
            )
        group.permissions.set(wanted)


@receiver(post_migrate)
def _roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # Once per migrate, after the last app's permissions exist.
    from django.apps import apps

    if sender is list(apps.get_app_configs())[-1]:
        roles_ensure()
