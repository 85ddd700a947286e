"""Method registry: one module per method, registered with ``@METHODS.register(name)``.

The import list below is the registry: adding a method is one module plus one line here.
"""

from benchmark.methods.base import METHODS, MethodContext, SSLMethod, StepOutput, build_method

from benchmark.methods import simclr, byol  # noqa: E402,F401  (registration side effects)
from benchmark.methods import vicreg, barlow_twins, moco, simsiam, nnclr, dino, swav, msn, pmsn, sfrik  # noqa: E402,F401,I001

__all__ = ["METHODS", "MethodContext", "SSLMethod", "StepOutput", "build_method"]
