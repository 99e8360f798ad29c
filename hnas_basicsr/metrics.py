"""The scoring protocol of the published SR tables: Y of 8-bit images, grayscale images on their own channel.

A colour image is scored on its Y channel (ITU-R BT.601) rounded to 8 bits, as MATLAB's ``rgb2ycbcr`` gives it
for a uint8 image. A grayscale image is scored on its own channel: its Y would be ``16 + 219/255 * v``, which
shrinks every error and adds 1.32 dB. The output for a grayscale image is reduced to that channel by the BT.601
weights at full range, which leave a gray output unchanged. In a test set a grayscale image is a single-channel
file (Set14's bridge; man is an RGB file of gray content and is scored on Y, as in the published tables); a
batch of training patches knows no files, so :func:`psnr_pt` takes a patch whose channels are equal for gray.
"""
import cv2
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim
from basicsr.metrics.psnr_ssim import calculate_psnr_pt
from basicsr.utils import bgr2ycbcr
from basicsr.utils.color_util import rgb2ycbcr_pt


def scoring_channel(img, gray):
    """The uint8 HxWx1 channel a uint8 BGR image is scored on: BT.601 luma if ``gray``, else Y rounded to 8 bits."""
    channel = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else bgr2ycbcr(img, y_only=True)
    return channel[..., None]


def psnr_ssim(sr, gt, crop_border, gray=False):
    """(PSNR, SSIM) of a uint8 BGR output against its uint8 BGR ground truth by basicsr's functions, on the
    channel of :func:`scoring_channel`."""
    sr, gt = scoring_channel(sr, gray), scoring_channel(gt, gray)
    return calculate_psnr(sr, gt, crop_border), calculate_ssim(sr, gt, crop_border)


def psnr_pt(sr, gt, crop_border):
    """Per-image PSNR of NCHW RGB tensors in [0, 1] on Y, or on their own channel where the ground truth's channels
    are equal."""
    gray = (gt == gt[:, :1]).flatten(1).all(1).view(-1, 1, 1, 1)
    sr, gt = rgb2ycbcr_pt(sr, y_only=True), rgb2ycbcr_pt(gt, y_only=True)
    sr, gt = (torch.where(gray, (x - 16. / 255.) * 255. / 219., x) for x in (sr, gt))
    return calculate_psnr_pt(sr, gt, crop_border)
