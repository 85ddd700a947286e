"""SSL losses not (or not exactly) provided by Lightly: SFRIK (two views and multi-crop), AUH, VICReg with the
official divisor, MSN/PMSN variants, MoCo v3, NNCLR's one-sided loss."""

from benchmark.losses.auh import AUHLoss, auh_uniformity
from benchmark.losses.mocov3 import MoCoV3Loss
from benchmark.losses.msn import MSNLoss, PMSNLoss, power_law_prior
from benchmark.losses.nnclr import NNCLRLoss
from benchmark.losses.sfrik import SFRIKLoss, legendre, sfrik_mmd
from benchmark.losses.sfrik_multicrop import SFRIKMultiCropLoss
from benchmark.losses.vicreg import VICRegLoss

__all__ = [
    "AUHLoss",
    "MoCoV3Loss",
    "MSNLoss",
    "NNCLRLoss",
    "PMSNLoss",
    "SFRIKLoss",
    "SFRIKMultiCropLoss",
    "VICRegLoss",
    "auh_uniformity",
    "legendre",
    "power_law_prior",
    "sfrik_mmd",
]
