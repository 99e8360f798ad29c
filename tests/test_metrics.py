"""hnas_basicsr.metrics: the published scoring protocol (8-bit Y; grayscale images on their own channel)."""
import numpy as np
import pytest
import torch
from basicsr.metrics import calculate_psnr
from basicsr.metrics.psnr_ssim import calculate_psnr_pt

from hnas_basicsr.metrics import psnr_ssim, psnr_pt, scoring_channel


def noisy_pair(rng, channels):
    gt = rng.integers(20, 236, (40, 50, channels)).astype(np.uint8)
    noise = rng.integers(-12, 13, gt.shape[:2] + (1 if channels == 1 else channels,))
    return np.clip(gt.astype(int) + noise, 0, 255).astype(np.uint8), gt


def test_colour_is_scored_on_y_rounded_to_8_bits():
    sr, gt = noisy_pair(np.random.default_rng(0), 3)
    y_sr, y_gt = scoring_channel(sr, False), scoring_channel(gt, False)
    assert y_sr.dtype == np.uint8 and y_sr.shape == (40, 50, 1)
    psnr, ssim = psnr_ssim(sr, gt, 2)
    diff = (y_sr.astype(float) - y_gt.astype(float))[2:-2, 2:-2]
    assert psnr == pytest.approx(10 * np.log10(255**2 / np.mean(diff**2)), abs=1e-9) and 0 < ssim < 1
    assert psnr != pytest.approx(calculate_psnr(sr, gt, 2, test_y_channel=True), abs=1e-3)  # basicsr: float Y


def test_grayscale_is_scored_on_its_own_channel_not_on_y_of_replicated_rgb():
    sr, gt = (np.repeat(img, 3, axis=2) for img in noisy_pair(np.random.default_rng(1), 1))
    psnr, _ = psnr_ssim(sr, gt, 2, gray=True)
    diff = (sr[..., 0].astype(float) - gt[..., 0].astype(float))[2:-2, 2:-2]
    assert psnr == pytest.approx(10 * np.log10(255**2 / np.mean(diff**2)), abs=1e-9)
    # on Y, 16 + 219/255 * v shrinks every error: about 20 log10(255/219) = 1.32 dB more
    assert psnr_ssim(sr, gt, 2, gray=False)[0] - psnr == pytest.approx(1.32, abs=0.1)


def test_output_of_a_grayscale_image_is_reduced_by_bt601_weights():
    rng = np.random.default_rng(2)
    sr = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    b, g, r = (sr[..., i].astype(float) for i in range(3))
    np.testing.assert_allclose(scoring_channel(sr, True)[..., 0], 0.299 * r + 0.587 * g + 0.114 * b, atol=0.51)


def test_psnr_pt_scores_gray_patches_on_their_own_channel_and_colour_ones_on_y():
    torch.manual_seed(0)
    gt = torch.rand(2, 3, 16, 16)
    gt[1] = gt[1, :1]  # patch 1 is gray
    sr = (gt + 0.05 * torch.randn_like(gt)).clamp(0, 1)
    psnr = psnr_pt(sr, gt, 2)
    assert psnr[0].item() == pytest.approx(calculate_psnr_pt(sr[:1], gt[:1], 2, test_y_channel=True).item(), abs=1e-6)
    luma = (sr[1:] * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert psnr[1].item() == pytest.approx(calculate_psnr_pt(luma, gt[1:, :1], 2).item(), abs=1e-4)
