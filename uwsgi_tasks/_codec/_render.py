"""Encoded values as text for people (the CLI shows a task's arguments and result this way).

Only the tree is read: nothing is imported or unpickled, so a hostile file can be shown safely. A tag
shows as its type around its payload (``uuid("...")``), a pickle as its size.
"""

from __future__ import annotations

import json
from typing import Any


def render_call(spec: dict[str, Any]) -> tuple[str, str]:
    """The arguments and keyword arguments of a spec read as plain JSON (`spec_tree`), as text."""
    return render({"$tuple": spec.get("args", [])}), render({"$d": spec.get("kwargs", {})})


def render(tree: Any) -> str:
    """A tree as Python-like text, for people: nothing is imported or unpickled."""
    kind = type(tree)
    if kind is list:
        return "[" + ", ".join(render(item) for item in tree) + "]"
    if kind is dict:
        if len(tree) == 1:
            ((tag, payload),) = tree.items()
            if tag == "$pickle":
                size = len(payload) * 3 // 4 if isinstance(payload, str) else 0
                return f"<pickled {size} bytes>"
            if tag in ("$tuple", "$set", "$frozenset") and isinstance(payload, list):
                inner = ", ".join(render(item) for item in payload)
                return {"$tuple": f"({inner}{',' if len(payload) == 1 else ''})", "$set": f"{{{inner}}}"}.get(
                    tag, f"frozenset({{{inner}}})"
                )
            if tag in ("$enum", "$obj") and isinstance(payload, list) and len(payload) == 2:
                return f"{payload[0]}({render(payload[1])})"
            if tag.startswith("$") and tag != "$d":
                return f"{tag[1:]}({json.dumps(payload, ensure_ascii=False)})"
            if tag == "$d" and isinstance(payload, dict):
                tree = payload
        return (
            "{"
            + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {render(v)}" for k, v in tree.items())
            + "}"
        )
    return json.dumps(tree, ensure_ascii=False)
