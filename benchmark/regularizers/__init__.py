"""Weight regularisers added to the SSL loss, by suite name (:data:`REGULARIZERS`: ``none``, ``so``, ``srip``).

Importing this package imports each of its modules (:func:`benchmark.registry.import_modules`), so a new
regularizer is one module registering its builder with ``@register_regularizer(name, Params)``.
"""

from benchmark.registry import import_modules
from benchmark.regularizers.base import REGULARIZERS, RegularizerEntry, build_regularizer, register_regularizer
from benchmark.regularizers.orthogonality import (
    OrthogonalityRegularizer,
    gram_minus_identity,
    so_penalty,
    srip_penalty,
)

import_modules(__name__)

__all__ = [
    "REGULARIZERS",
    "OrthogonalityRegularizer",
    "RegularizerEntry",
    "build_regularizer",
    "gram_minus_identity",
    "register_regularizer",
    "so_penalty",
    "srip_penalty",
]
