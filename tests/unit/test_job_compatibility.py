"""Jobs stay readable across one release: consumers ignore fields they do not know, and a
field added since the previous release has a default (docs/upgrading.md)."""

from __future__ import annotations

import importlib
import pkgutil

from common.envelope import Job

DOMAINS = ("sms", "payments", "tournaments", "notifications", "common")


def every_job_model() -> list[type[Job]]:
    for name in DOMAINS:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if ".migrations" in module.name or module.name.endswith("__main__"):
                continue
            importlib.import_module(module.name)
    found: list[type[Job]] = []
    pending = list(Job.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def test_no_job_refuses_a_field_it_does_not_know() -> None:
    models = every_job_model()
    assert len(models) >= 10
    strict = [m.__qualname__ for m in models if m.model_config.get("extra") != "ignore"]
    assert strict == [], "a consumer must ignore unknown fields: keep Job's extra='ignore'"
