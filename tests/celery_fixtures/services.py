"""``require_service`` from the root ``tests/conftest.py``, loaded by path.

``from conftest import …`` is ambiguous once several folders have a conftest.py (the
first one imported wins the module name), so the Celery tests load the root one under
a name of its own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
_NAME = "schedsync_tests_root_conftest"


def _root_conftest() -> ModuleType:
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_NAME, _ROOT_CONFTEST)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


require_service = _root_conftest().require_service
scratch_postgres_database = _root_conftest().scratch_postgres_database
