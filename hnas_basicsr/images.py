"""HR images and their LR as the benchmarks make them: 8-bit BGR, a modcrop, MATLAB-style bicubic."""
import cv2
import numpy as np


def read_image(path):
    """(8-bit BGR image, whether the file is grayscale), or None if it cannot be read.

    A grayscale file (one channel, or gray and alpha) is read with its channel replicated; alpha is dropped.
    """
    try:
        img, raw = cv2.imread(path, cv2.IMREAD_COLOR), cv2.imread(path, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    return None if img is None else (img, raw.ndim == 2 or raw.shape[2] == 2)


def modcrop(img, mod):
    """The top-left part of an image whose sides are multiples of ``mod``."""
    h, w = img.shape[:2]
    return img[:h - h % mod, :w - w % mod]


def imresize_uint8(img, scale):
    """MATLAB-style bicubic resizing of a uint8 image by ``scale`` (e.g. 1/4 or 4), rounded and clipped to uint8."""
    from basicsr.utils.matlab_functions import imresize  # (imports torch: only when resizing)
    out = imresize(img.astype(np.float32) / 255., scale)
    return np.clip(np.round(out * 255.), 0, 255).astype(np.uint8)
