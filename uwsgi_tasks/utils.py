"""0.7.3 compatibility: the names code imported from ``uwsgi_tasks.utils``."""

from __future__ import annotations

from typing import Any

from .contrib.django import django_setup


class ProxyDict(dict[Any, Any]):
    """0.7.3's task buffer class, kept so that spool files pickled by 0.7.3 still load."""

    def __init__(self, dict_instance: dict[Any, Any] | None = None, key: str = "buffer") -> None:
        super().__init__(dict_instance or {})
        self.key = key


def get_function_path(function: Any) -> str:
    """0.7.3's dotted path of a function: ``module.name``."""
    return f"{getattr(function, '__module__', None) or '__main__'}.{function.__name__}"


__all__ = ["django_setup", "get_function_path", "ProxyDict"]
