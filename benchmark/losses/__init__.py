"""SSL losses not (or not exactly) provided by Lightly: SFRIK, VICReg with the official divisor, MSN/PMSN variants,
MoCo v3, NNCLR's one-sided loss."""

from benchmark.losses.mocov3 import MoCoV3Loss
from benchmark.losses.msn import MSNLoss, PMSNLoss, power_law_prior
from benchmark.losses.nnclr import NNCLRLoss
from benchmark.losses.sfrik import SFRIKLoss, legendre, sfrik_mmd
from benchmark.losses.vicreg import VICRegLoss

__all__ = [
    "MoCoV3Loss",
    "MSNLoss",
    "NNCLRLoss",
    "PMSNLoss",
    "SFRIKLoss",
    "VICRegLoss",
    "legendre",
    "power_law_prior",
    "sfrik_mmd",
]
