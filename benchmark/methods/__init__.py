"""Method registry: one module per method, registered with ``@METHODS.register(name)``.

Importing this package imports each of its modules (:func:`benchmark.registry.import_modules`), so adding a method
is one module; no import line is needed.
"""

from benchmark.methods.base import METHODS, MethodContext, SSLMethod, StepOutput, build_method
from benchmark.registry import import_modules

import_modules(__name__)

__all__ = ["METHODS", "MethodContext", "SSLMethod", "StepOutput", "build_method"]
