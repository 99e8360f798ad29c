"""Synthetic test images: smooth gradients with sharp shapes, so that SR networks and bicubic differ."""
import cv2
import numpy as np


def synthetic_image(rng, height, width):
    """A smooth colour gradient with a few random rectangles and discs (uint8 BGR)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([a * x / width + b * y / height + c for a, b, c in rng.uniform(-100, 100, (3, 3))], -1) + 128
    for _ in range(3):
        colour = [float(v) for v in rng.uniform(0, 255, 3)]
        cy, cx, r = int(rng.integers(0, height)), int(rng.integers(0, width)), int(rng.integers(3, 12))
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), r, colour, -1)
        else:
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r // 2), colour, -1)
    return np.clip(img, 0, 255).astype(np.uint8)
