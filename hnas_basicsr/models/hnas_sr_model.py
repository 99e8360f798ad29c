"""HNASSRModel: basicsr's SRModel with crash-safe checkpoints, safe loading, CPU DDP and non-finite updates skipped."""
from os import path as osp

from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import MODEL_REGISTRY

from hnas_basicsr.distributed import wrap_model
from hnas_basicsr.models.finite_updates import guard_optimizer
from hnas_basicsr.networks import load_weights, save_atomic


@MODEL_REGISTRY.register()
class HNASSRModel(SRModel):
    """basicsr's SRModel (same options, same checkpoints), except that:

    * ``net_*.pth`` and ``*.state`` are written to a temporary file and renamed: a kill leaves the old file or
      the new one (basicsr writes in place, and ``--auto_resume`` then loads the truncated file);
    * checkpoints load on the CPU with ``weights_only=True`` (basicsr unpickles anything) and a file that does
      not fit the network is a one-line error;
    * DDP runs on CPUs (gloo) as on GPUs (basicsr passes CUDA device ids): :func:`hnas_basicsr.distributed.wrap_model`;
    * a NaN/Inf loss or gradient skips the optimizer step, logged and counted (:mod:`.finite_updates`).

    Under the plugin's entry points, option files with ``model_type: SRModel`` run this model.
    """

    def model_to_device(self, net):
        return wrap_model(net, self.opt, self.device)

    def setup_optimizers(self):
        super().setup_optimizers()
        guard_optimizer(self.optimizer_g, 'network_g')

    def load_network(self, net, load_path, strict=True, param_key='params'):
        net = self.get_bare_model(net)
        get_root_logger().info(f'Loading {type(net).__name__} model from {load_path}, with param key: [{param_key}].')
        load_weights(net, load_path, param_key or 'params', strict)

    @master_only
    def save_network(self, net, net_label, current_iter, param_key='params'):
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        state = {key: {k[7:] if k.startswith('module.') else k: v.cpu()
                       for k, v in self.get_bare_model(one).state_dict().items()} for one, key in zip(nets, keys)}
        label = 'latest' if current_iter == -1 else current_iter
        save_atomic(state, osp.join(self.opt['path']['models'], f'{net_label}_{label}.pth'))

    def training_state(self, epoch, current_iter):
        """What a resume needs: basicsr's epoch, iteration, optimizers and schedulers."""
        return {'epoch': epoch, 'iter': current_iter, 'optimizers': [o.state_dict() for o in self.optimizers],
                'schedulers': [s.state_dict() for s in self.schedulers]}

    @master_only
    def save_training_state(self, epoch, current_iter):
        if current_iter != -1:
            path = osp.join(self.opt['path']['training_states'], f'{current_iter}.state')
            save_atomic(self.training_state(epoch, current_iter), path)
