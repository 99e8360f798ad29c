"""HNASSearchModel: HNAS's Algorithm 1 inside BasicSR's own training loop.

Each BasicSR iteration is one weight step of the supernet (``network_g``, an HNASSuperNet) on the
weight split, with an architecture freshly sampled from the controller (``network_c``, an
HNASController). Every ``search.weight_steps`` iterations follow ``search.controller_steps``
REINFORCE steps of the controller on the controller split, rewarded with
lambda * PSNR - (1 - lambda) * Cost (+ entropy bonus) against a moving-average baseline (``search.reward_psnr:
relative``: the PSNR minus a fixed reference architecture's on the same batch).
With ``search.strategy: random`` the architectures are sampled uniformly and the controller is
never trained: the random-search baseline with the same supernet, data and budget. ``search.weight_sampling:
uniform`` trains the weights on uniform samples under the controller too (the controller only reads the supernet),
and ``search.uniform_iter`` does so for the first iterations only, the controller starting after them.
With a list of lambdas there is one controller per lambda (``network_c`` an nn.ModuleList), sharing the supernet:
weight steps sample from them in turn and each controller round trains the next one, rewarded at its lambda, so
one search yields picks along the whole quality/cost trade-off for the budget of one search per lambda.
"""
import copy
import math
import random

import torch
from basicsr.archs import build_network
from basicsr.data import build_dataloader, build_dataset
from basicsr.models import lr_scheduler
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet
from hnas_basicsr.data.hnas_split_dataset import controller_split
from hnas_basicsr.distributed import broadcast_module, broadcast_object, mean_over_ranks
from hnas_basicsr.models.finite_updates import guard_optimizer
from hnas_basicsr.models.hnas_sr_model import HNASSRModel
from hnas_basicsr.nas import space
from hnas_basicsr.nas.reward import MovingAverageBaseline
from hnas_basicsr.cli import ToolError
from hnas_basicsr.networks import load_checkpoint
from hnas_basicsr.objective import (SearchObjective, build_controllers, check_controller_state, controllers_of,
                                    search_options)


def cycle(loader):
    """Endless batches from a dataloader (a new shuffle per pass)."""
    while True:
        yield from loader


@MODEL_REGISTRY.register()
class HNASSearchModel(HNASSRModel):
    """BasicSR model of the HNAS search: supernet weights and controller, interleaved (Algorithm 1).

    Checkpoints, safe loading, DDP and the non-finite guard come from HNASSRModel; the controller's optimizer is
    guarded too.
    """

    def __init__(self, opt):
        self.search = search_options(opt)
        opt['find_unused_parameters'] = True  # under DDP: a path uses only some of the supernet's parameters
        self.net_c = None
        super().__init__(opt)
        if self.net_c is None:  # not training: the controller is still needed to sample and derive
            self._build_controller()
        self.objective = SearchObjective(self.search, self.get_bare_model(self.net_g).hparams)
        self.num_layers = self.objective.num_layers
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(opt.get('manual_seed') or 0)
        self.rng = random.Random(opt.get('manual_seed') or 0)  # the random strategy's sampler
        reference = self.objective.reference(opt.get('manual_seed') or 0)  # reward_psnr: relative
        self.reference = None if reference is None else self._from_rank0(reference)  # (a resume: the run's own)
        self.baselines = [MovingAverageBaseline(self.search['baseline_decay']) for _ in self.objective.lambdas]
        self.search_log = {}
        self.skipped_rewards = 0
        self.controller_batches = None
        if self.is_train and self.search['strategy'] == 'controller':
            self._warn_about_rounds(opt['train']['total_iter'])

    def _warn_about_rounds(self, total_iter):
        rounds = self.controller_round(total_iter) + 1
        count = len(self.controllers)
        if rounds < 1:
            get_root_logger().warning(f"search.uniform_iter {self.search['uniform_iter']}: no controller round before "
                                      f'train.total_iter {total_iter}; the controller never learns')
        elif rounds % count:
            get_root_logger().warning(f'{rounds} controller rounds for {count} lambdas: the first {rounds % count} '
                                      f'get one more round than the others (make the rounds a multiple of {count})')

    # ---- building -------------------------------------------------------------------------------------------------
    def print_network(self, net):
        """BasicSR's summary line; the structure too, but not the supernet's (every candidate op of every edge of
        every layer: thousands of lines)."""
        bare = self.get_bare_model(net)
        if not isinstance(bare, HNASSuperNet):
            return super().print_network(net)
        params = sum(p.numel() for p in bare.parameters())
        get_root_logger().info(f'Network: {type(bare).__name__}, with parameters: {params:,d} '
                               f'({sum(1 for _ in bare.modules()):,d} modules, not printed)')

    def _build_controller(self):
        self.net_c = build_controllers(build_network, self.opt['network_c'], self.search).to(self.device)
        self.controllers = controllers_of(self.net_c)
        self.print_network(self.net_c)
        load_path = self.opt['path'].get('pretrain_network_c')
        if load_path is not None:
            state = load_checkpoint(load_path)
            try:
                check_controller_state(state, self.search, load_path)
            except ValueError as exc:
                raise ToolError(str(exc)) from None
            self.load_network(self.net_c, load_path, self.opt['path'].get('strict_load_c', True), 'params')

    def init_training_settings(self):
        self._build_controller()
        self.net_c.train()
        super().init_training_settings()

    def setup_optimizers(self):
        super().setup_optimizers()
        optim_c = copy.deepcopy(self.opt['train'].get('optim_c') or {'type': 'Adam', 'lr': 3e-4})
        self.optimizer_c = self.get_optimizer(optim_c.pop('type'), self.net_c.parameters(), **optim_c)
        self.optimizers.append(self.optimizer_c)
        guard_optimizer(self.optimizer_c, 'network_c')

    def setup_schedulers(self):
        """``train.scheduler`` for the weights, ``train.scheduler_c`` (default: the same) for the controller."""
        train_opt = self.opt['train']
        for optimizer, key in ((self.optimizer_g, 'scheduler'), (self.optimizer_c, 'scheduler_c')):
            sched = copy.deepcopy(train_opt.get(key) or train_opt['scheduler'])
            self.schedulers.append(getattr(lr_scheduler, sched.pop('type'))(optimizer, **sched))

    def _controller_loader(self):
        """Batches of the controller split: the training set's options with ``split: controller``."""
        dataset_opt = controller_split(self.opt['datasets']['train'])
        dataset = build_dataset(dataset_opt)
        loader = build_dataloader(dataset, dataset_opt, num_gpu=self.opt['num_gpu'], dist=False, sampler=None,
                                  seed=self.opt['manual_seed'])
        if len(loader) == 0:  # the loader drops the last partial batch: cycle() would then spin forever
            raise ValueError(f'datasets.train: the controller split has {len(dataset)} sample(s), fewer than one batch '
                             f"(batch_size_per_gpu: {dataset_opt['batch_size_per_gpu']}); use a smaller batch, "
                             'a smaller weights_ratio or more training images')
        return cycle(loader)

    # ---- sampling and reward --------------------------------------------------------------------------------------
    def sample(self, greedy=False, uniform=False, k=0):
        """One architecture from the strategy (``uniform``: from the space; controller ``k``: the one of the k-th
        lambda): a ControllerSample-like (genotype, log_prob, entropy)."""
        return self.objective.sample(self.controllers[k], self.generator, self.rng, greedy, uniform)

    def sample_genotype(self, current_iter):
        """The architecture of weight step ``current_iter`` (no graph through the controller); rank 0's on every
        rank."""
        uniform = self.search['weight_sampling'] == 'uniform' or self.in_uniform_start(current_iter)
        with torch.no_grad():
            return self._from_rank0(self.sample(uniform=uniform, k=current_iter % len(self.controllers))[0])

    def in_uniform_start(self, current_iter):
        return current_iter <= self.search['uniform_iter']

    def _from_rank0(self, genotype):
        """Rank 0's genotype (broadcast as decision indices): every rank trains and rewards the same path."""
        indices = broadcast_object(space.encode(genotype))
        return genotype if indices == space.encode(genotype) else space.decode(indices, self.num_layers)

    def evaluate(self, genotype, lq, gt):
        """(PSNR on Y with crop = scale, a gray patch on its own channel, in dB, averaged over the batch; Cost in cost
        units) of ``genotype``."""
        psnr = self.objective.psnr(self.get_bare_model(self.net_g), genotype, lq, gt)
        psnr = mean_over_ranks(psnr)  # each rank rewards on its own batch: the reward of the global batch
        return psnr, self.objective.cost(genotype)

    def joint_reward(self, psnr, cost, entropy, lam=None):
        return self.objective.reward(psnr, cost, lam) + self.objective.entropy_bonus(entropy)

    # ---- Algorithm 1 ----------------------------------------------------------------------------------------------
    def optimize_parameters(self, current_iter):
        genotype = self.sample_genotype(current_iter)
        self.get_bare_model(self.net_g).set_genotype(genotype)
        super().optimize_parameters(current_iter)
        self.search_log['position'] = genotype.position
        if self.search['strategy'] == 'controller' and not self.in_uniform_start(current_iter) and \
                current_iter % self.search['weight_steps'] == 0:
            self.train_controller(self.controller_round(current_iter) % len(self.controllers))

    def controller_round(self, current_iter):
        """0 for the first controller round (the first multiple of ``weight_steps`` after ``uniform_iter``), 1 for the
        next, ...: with several lambdas, round r trains controller r % their number."""
        steps = self.search['weight_steps']
        return current_iter // steps - self.search['uniform_iter'] // steps - 1

    def train_controller(self, k=0):
        """``controller_steps`` REINFORCE steps of controller ``k`` on batches of the controller split."""
        if self.controller_batches is None:
            self.controller_batches = self._controller_loader()
        controller, baseline, lam = self.controllers[k], self.baselines[k], self.objective.lambdas[k]
        self.net_g.eval()
        stats = []
        for _ in range(self.search['controller_steps']):
            batch = next(self.controller_batches)
            genotype, log_prob, entropy = self.sample(k=k)
            shared = self._from_rank0(genotype)
            if shared != genotype:  # (ranks sample alike; this only guards against drift)
                genotype, (log_prob, entropy) = shared, controller.log_prob(shared)
            lq, gt = batch['lq'].to(self.device), batch['gt'].to(self.device)
            psnr, cost = self.evaluate(genotype, lq, gt)
            psnr_ref = self.evaluate(self.reference, lq, gt)[0] if self.reference is not None else 0.0
            value = self.joint_reward(psnr - psnr_ref, cost, entropy, lam)
            if not math.isfinite(value):
                self.skipped_rewards += 1
                get_root_logger().warning(f'non-finite reward {value} (PSNR {psnr}, reference PSNR {psnr_ref}, cost '
                                          f'{cost}): controller step skipped ({self.skipped_rewards} so far)')
                continue
            advantage = baseline.update(value)
            loss = -advantage * log_prob
            self.optimizer_c.zero_grad()
            loss.backward()
            self.optimizer_c.step()
            stats.append((value, psnr, cost, float(entropy.detach()), loss.item(), psnr_ref))
        self.net_g.train()
        broadcast_module(self.net_c)  # identical controllers and baselines on every rank
        baseline.load_state_dict(broadcast_object(baseline.state_dict()))
        if stats:
            mean = [sum(column) / len(stats) for column in zip(*stats)]
            suffix = '' if len(self.controllers) == 1 else f'_l{lam}'  # (one set of figures per lambda)
            log = dict(reward=mean[0], psnr_c=mean[1], cost=mean[2], entropy=mean[3], l_policy=mean[4],
                       baseline=baseline.value, greedy_position=self.greedy_genotype(k).position)
            if self.reference is not None:
                log['psnr_ref'] = mean[5]
            log['gmacs' if self.search['cost'] == 'macs' else 'latency_ms'] = mean[2] * self.search['cost_unit']
            probs = controller.probabilities()
            log.update({f'p_position_{i + 1}': p for i, p in enumerate(probs['position'])})
            for kind, short in (('normal', 'p_normal'), ('upsampling', 'p_up')):
                log.update({f'{short}_{op}': p for op, p in zip(space.cell_ops(kind), probs[f'{kind}.op'])})
            self.search_log.update({key + suffix: value for key, value in log.items()})

    def get_current_log(self):
        skipped = {'skipped_g': self.optimizer_g.skipped_steps, 'skipped_c': self.optimizer_c.skipped_steps,
                   'skipped_reward': self.skipped_rewards}
        return dict(self.log_dict, **self.search_log, **{k: v for k, v in skipped.items() if v})

    # ---- validation of the greedy architecture -------------------------------------------------------------------
    def greedy_genotype(self, k=0):
        """Controller ``k``'s most likely architecture (random search: None)."""
        with torch.no_grad():
            return self.sample(greedy=True, k=k)[0] if self.search['strategy'] == 'controller' else None

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """BasicSR validation of the controller's most likely architecture (random search: the last sample; several
        lambdas: the first one's)."""
        net = self.get_bare_model(self.net_g)
        trained = net.genotype
        genotype = self.greedy_genotype() or trained
        net.set_genotype(genotype)
        cost = self.objective.cost_table.cost(genotype)
        latency = self.objective.latency_table
        predicted = f', {latency.latency_ms(genotype):.1f} ms predicted on {latency.device}' if latency else ''
        get_root_logger().info(f'Validating architecture: {genotype.describe()}; derived network: '
                               f'{cost.params / 1e6:.3f} M params, {cost.macs / 1e9:.1f} G multiply-adds{predicted} '
                               f'({self.search["cost_lr_size"]} LR input, {self.search["cost_num_feat"]} channels)')
        if tb_logger:
            tb_logger.add_scalar('val/greedy_gmacs', cost.macs / 1e9, current_iter)
            tb_logger.add_scalar('val/greedy_position', genotype.position, current_iter)
        super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        if trained is not None:
            net.set_genotype(trained)

    # ---- checkpoints ----------------------------------------------------------------------------------------------
    def save(self, epoch, current_iter):
        self.save_network(self.net_c, 'net_c', current_iter)
        super().save(epoch, current_iter)

    def training_state(self, epoch, current_iter):
        """BasicSR's training state plus the search state (baseline, sampler states)."""
        search = {'lambdas': list(self.objective.lambdas), 'baselines': [b.state_dict() for b in self.baselines],
                  'generator': self.generator.get_state(), 'rng': _rng_state(self.rng),
                  'reward_psnr': self.search['reward_psnr'],
                  'reference': None if self.reference is None else space.encode(self.reference)}
        return dict(super().training_state(epoch, current_iter), search=search)

    def resume_training(self, resume_state):
        search = resume_state['search']
        lambdas = search.get('lambdas', [self.objective.lambdas[0]])  # (older states: one lambda, not recorded)
        if tuple(lambdas) != self.objective.lambdas:
            raise ToolError(f'search.lambda: the run to resume searched at lambda {lambdas}, these options at '
                            f'{list(self.objective.lambdas)}; resume with the same lambdas or start a new run')
        reward_psnr = search.get('reward_psnr', 'absolute')  # (older states: the paper's reward)
        if reward_psnr != self.search['reward_psnr']:
            raise ToolError(f"search.reward_psnr: the run to resume rewarded {reward_psnr} PSNR, these options "
                            f"{self.search['reward_psnr']}; its baseline holds rewards of the other kind: resume with "
                            'the same setting or start a new run')
        if search.get('reference') is not None:  # the run's own reference (manual_seed may be drawn anew)
            self.reference = space.decode(search['reference'], self.num_layers)
        super().resume_training(resume_state)
        states = search['baselines'] if 'baselines' in search else [search['baseline']]  # (older states: one)
        for baseline, state in zip(self.baselines, states):
            baseline.load_state_dict(state)
        self.generator.set_state(search['generator'].cpu())
        version, internal, gauss = search['rng']
        self.rng.setstate((version, tuple(internal), gauss))


def _rng_state(rng):
    """random.Random state as plain ints and lists (loadable with weights_only=True)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]
