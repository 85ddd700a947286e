"""SSL losses not (or not exactly) provided by Lightly: SFRIK, VICReg with the official divisor, MSN/PMSN variants."""

from benchmark.losses.msn import MSNLoss, PMSNLoss, power_law_prior
from benchmark.losses.sfrik import SFRIKLoss, legendre, sfrik_mmd
from benchmark.losses.vicreg import VICRegLoss

__all__ = ["MSNLoss", "PMSNLoss", "SFRIKLoss", "VICRegLoss", "legendre", "power_law_prior", "sfrik_mmd"]
