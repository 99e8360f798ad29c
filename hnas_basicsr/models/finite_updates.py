"""Updates that never carry a NaN or Inf into the weights: the optimizer step is skipped, logged and counted."""
import types

import torch
from basicsr.utils import get_root_logger


def guard_optimizer(optimizer, name):
    """Make ``optimizer.step()`` skip (zeroing the gradients) when any gradient is not finite.

    A non-finite loss gives non-finite gradients, so one check covers both. Skipped steps are counted in
    ``optimizer.skipped_steps``. Idempotent.
    """
    if hasattr(optimizer, 'skipped_steps'):
        return optimizer
    step = optimizer.step
    optimizer.skipped_steps = 0

    def guarded_step(self, *args, **kwargs):
        grads = [p.grad for group in self.param_groups for p in group['params'] if p.grad is not None]
        if grads and not torch.stack([torch.isfinite(g).all() for g in grads]).all():
            self.skipped_steps += 1
            self.zero_grad()
            get_root_logger().warning(f'{name}: non-finite loss or gradient, update skipped '
                                      f'({self.skipped_steps} so far)')
            return None
        return step(*args, **kwargs)

    optimizer.step = types.MethodType(guarded_step, optimizer)  # a bound method, as lr schedulers expect
    return optimizer
