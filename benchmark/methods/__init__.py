"""Method registry: one module per method, registered with ``@METHODS.register(name)``.

The import list below is the registry: adding a method is one module plus one line here.
"""

from benchmark.methods import (  # noqa: F401  (importing a method module registers it)
    auh,
    barlow_twins,
    byol,
    dcl,
    dino,
    mae,
    moco,
    mocov3,
    msn,
    nnbyol,
    nnclr,
    pmsn,
    sfrik,
    simclr,
    simsiam,
    swav,
    vicreg,
    wmse,
)
from benchmark.methods.base import METHODS, MethodContext, SSLMethod, StepOutput, build_method

__all__ = ["METHODS", "MethodContext", "SSLMethod", "StepOutput", "build_method"]
