"""The controller's reward and its moving-average baseline (no BasicSR, no torch).

Reward (paper, Eq. of the joint objective): ``R = lam * PSNR - (1 - lam) * Cost``, with
``Cost = multiply-adds / cost_scale``. The unit of Cost decides how lam trades dB against compute, so the
normalisation is an explicit argument: the caller counts the sampled architecture's multiply-adds on a
fixed reference LR size (see :mod:`hnas_basicsr.nas.cost`) and passes e.g. ``cost_scale=1e9`` for Cost in
G multiply-adds of that size.
"""
import math


def reward(psnr, cost, lam, cost_scale):
    """Joint reward of one sampled architecture.

    Args:
        psnr (float): Validation PSNR in dB.
        cost (float): Multiply-adds of the same architecture.
        lam (float): Trade-off in [0, 1]; 1 rewards PSNR only, 0 cost only.
        cost_scale (float): Positive divisor giving Cost's unit, e.g. 1e9 for G multiply-adds.

    Returns:
        float: ``lam * psnr - (1 - lam) * cost / cost_scale``.
    """
    if not 0 <= lam <= 1:
        raise ValueError(f'lam: expected a number in [0, 1], got {lam!r}')
    if not cost_scale > 0:
        raise ValueError(f'cost_scale: expected a positive number, got {cost_scale!r}')
    return lam * psnr - (1 - lam) * cost / cost_scale


class MovingAverageBaseline:
    """Exponential moving average of rewards, the REINFORCE baseline (as ENAS: updated, then subtracted).

    Args:
        decay (float): Weight of the old baseline, in [0, 1). Default: 0.95.
    """

    def __init__(self, decay=0.95):
        if not 0 <= decay < 1:
            raise ValueError(f'decay: expected a number in [0, 1), got {decay!r}')
        self.decay = decay
        self._value = None

    @property
    def value(self):
        """The baseline (float), or None before the first update."""
        return self._value

    def update(self, value) -> float:
        """Fold a reward into the baseline and return the advantage ``value - baseline`` (updated baseline).

        The first update sets the baseline to ``value`` (advantage 0); later ones set
        ``baseline = decay * baseline + (1 - decay) * value``.

        Raises:
            ValueError: if ``value`` is NaN or infinite; the baseline is left unchanged (callers skip such
                rewards, so reaching this is a bug).
        """
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f'reward must be finite, got {value}')
        self._value = value if self._value is None else self.decay * self._value + (1 - self.decay) * value
        return value - self._value

    def state_dict(self) -> dict:
        return {'value': self._value}

    def load_state_dict(self, state: dict):
        value = state['value']
        self._value = None if value is None else float(value)
