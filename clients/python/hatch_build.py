"""Hatchling hooks of xiaodian-client: which files the wheel and sdist hold, and the version.

The modules are not copied into clients/python: they are read from ../../python/xiaodian (the
repository), or from ./xiaodian when building a wheel from an unpacked sdist, which holds them.
Only the client's modules are taken: none of them imports the server or the Rust extension
(tests/platform/test_python_client.py checks both the list and the imports).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

#: The package's own modules; every *.py and *.pyi of xiaodian/v1 (the stubs) comes too.
MODULES = ("__init__.py", "client.py", "_client_methods.py", "errors.py", "py.typed")


def source(root: str) -> Path:
    """The folder holding the `xiaodian` package's files."""
    unpacked_sdist = Path(root) / "xiaodian"
    if (unpacked_sdist / "client.py").is_file():
        return unpacked_sdist
    return Path(root).resolve().parent.parent / "python" / "xiaodian"


def files(root: str) -> dict[str, str]:
    """{path on disk: path in the distribution} of every file shipped."""
    package = source(root)
    shipped = {str(package / name): f"xiaodian/{name}" for name in MODULES}
    stubs = sorted(p for p in (package / "v1").iterdir() if p.suffix in (".py", ".pyi"))
    shipped.update({str(p): f"xiaodian/v1/{p.name}" for p in stubs})
    missing = [path for path in shipped if not Path(path).is_file()]
    if missing or not stubs:
        raise FileNotFoundError(f"xiaodian-client: missing {missing or package / 'v1'}")
    return shipped


class ClientFiles(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        build_data["force_include"].update(files(self.root))


class ClientVersion(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        text = (source(self.root) / "__init__.py").read_text(encoding="utf-8")
        found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
        if found is None:
            raise ValueError("xiaodian/__init__.py has no __version__")
        metadata["version"] = found.group(1)
