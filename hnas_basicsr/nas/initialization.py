"""Data-dependent initialisation under which the input's signal survives any cell stack (LSUV).

Plain HNAS cells (ReLU-led convs, sums of two ops, concatenation, no normalisation) lose the input's
signal at PyTorch's default initialisation and blow it up at Kaiming's, by a factor that depends on
the genotype. Layer-sequential unit variance (Mishkin & Matas, 2016) fixes this for every genotype
without changing the network: one forward pass of a calibration batch in which every convolution's
weights are rescaled, in the order they run, so that its output has unit standard deviation; their
biases start at zero. The calibration batch is synthetic (1/f noise, the power spectrum of natural
photographs), made from a fixed seed, so nothing is read from disk and the global RNG is untouched.
"""
import math

import torch

CALIBRATION_SEED = 0


def natural_images(num, channels, height, width, seed=CALIBRATION_SEED):
    """``num`` images in 0..1 whose amplitude spectrum falls as 1/f, like photographs' (mean 0.45, std 0.2)."""
    generator = torch.Generator().manual_seed(seed)
    fy = torch.fft.fftfreq(height).view(-1, 1)
    fx = torch.fft.rfftfreq(width).view(1, -1)
    amplitude = 1 / torch.sqrt(fx**2 + fy**2).clamp_min(1 / max(height, width))
    phase = torch.rand(num, channels, height, width // 2 + 1, generator=generator) * 2 * math.pi
    images = torch.fft.irfft2(amplitude * torch.polar(torch.ones_like(phase), phase), s=(height, width))
    images = images - images.mean(dim=(-2, -1), keepdim=True)
    images = images / images.std(dim=(-2, -1), keepdim=True)
    return (0.45 + 0.2 * images).clamp(0, 1)


@torch.no_grad()
def lsuv_(net, x, convs, target_std=1.):
    """Rescale each of ``convs`` in place so that its output in ``net(x)`` has std ``target_std``; zero its bias.

    Convs are rescaled in the order they run, each seeing the already rescaled ones before it. Convs whose
    output is 1x1 (channel attention on pooled features) keep their initialisation. Every conv is assumed
    to run at most once per forward, as in a derived HNAS network.

    Args:
        net (nn.Module): The network, called as ``net(x)``.
        x (Tensor): The calibration batch.
        convs (list[nn.Module]): The Conv2d / ConvTranspose2d modules to rescale.
        target_std (float): Output std of every rescaled conv.
    """

    def rescale(module, args, out):
        if out.shape[-2:].numel() == 1:
            return None
        if module.bias is not None:
            out = out - module.bias.view(1, -1, 1, 1)
            module.bias.zero_()
        gain = target_std / out.std().clamp_min(1e-12)
        module.weight.mul_(gain)
        return out * gain

    handles = [conv.register_forward_hook(rescale) for conv in convs]
    try:
        net(x)
    finally:
        for handle in handles:
            handle.remove()
    return net


@torch.no_grad()
def cell_signal(net, x):
    """Per-cell feature statistics of an HNASNet on the batch ``x``: how much of the input reaches each cell.

    Returns:
        list[tuple[float, float]]: for the head conv and then each cell, (std of its output, input share),
        where input share = the output's variance across the images of the batch / its mean square: 1 when
        every feature is driven by the image, 0 when the features are the same for every image (biases).
    """
    stats = []

    def record(module, args, out):
        across_images = (out - out.mean(dim=0, keepdim=True)).square().mean()
        stats.append((out.std().item(), (across_images / out.square().mean().clamp_min(1e-30)).item()))

    handles = [m.register_forward_hook(record) for m in [net.conv_first, *net.cells]]
    try:
        net(x)
    finally:
        for handle in handles:
            handle.remove()
    return stats
