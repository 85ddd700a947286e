"""Weight regularisers added to the SSL loss (orthogonality regularisation: SO and SRIP)."""

from benchmark.regularizers.orthogonality import (
    OrthogonalityRegularizer,
    gram_minus_identity,
    so_penalty,
    srip_penalty,
)

__all__ = ["OrthogonalityRegularizer", "gram_minus_identity", "so_penalty", "srip_penalty"]
