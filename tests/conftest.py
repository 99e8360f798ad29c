"""Shared test set-up: CPU only, few threads, the plugin registered."""
import torch

import hnas_basicsr.archs  # noqa: F401  (registers the plugin's networks)

torch.set_num_threads(2)
