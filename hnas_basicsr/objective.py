"""The search objective, one definition for the search (HNASSearchModel) and for derive.

The options' ``search`` block sets it: an architecture's reward is ``lambda * PSNR - (1 - lambda) * Cost``, with
PSNR on Y (crop = scale; a gray patch on its own channel, :func:`hnas_basicsr.metrics.psnr_pt`) of the supernet's
path, and Cost the multiply-adds of the derived HNASNet (``cost_num_feat`` channels, a ``cost_lr_size`` LR input,
:class:`~hnas_basicsr.nas.cost.PathCostTable`) in units of ``cost_unit`` G, or with ``cost: latency`` its latency
on a device predicted by a measured table (:class:`~hnas_basicsr.nas.latency.LatencyTable`) in units of
``cost_unit`` ms. The search adds an entropy bonus; with ``reward_psnr: relative`` the controller's reward takes
the PSNR relative to a fixed reference architecture's on the same batch (:meth:`SearchObjective.reference`).
Architectures come from the controller (``strategy: controller``) or uniformly from the space (``random``); the
weight steps can sample uniformly under either strategy (``weight_sampling: uniform``, or the first ``uniform_iter``).
"""
import random

import torch
from torch import nn

from hnas_basicsr.metrics import psnr_pt
from hnas_basicsr.nas import space
from hnas_basicsr.nas.cost import PathCostTable
from hnas_basicsr.nas.latency import LatencyTable, network_settings
from hnas_basicsr.nas.reward import reward

SEARCH_DEFAULTS = {
    'strategy': 'controller',  # or 'random': uniform sampling, no controller training
    'lambda': 0.6,  # trade-off lambda * PSNR - (1 - lambda) * Cost; a list: one controller per lambda (a front)
    'cost': 'macs',  # what Cost measures: 'macs' (multiply-adds) or 'latency' (ms, predicted by latency_table)
    'latency_table': None,  # with cost: latency, the table tools/build_latency_table.py measured on the device
    'cost_unit': 1000.0,  # one unit of Cost, in G multiply-adds (in ms with cost: latency) ...
    'cost_lr_size': [480, 480],  # ... of the derived network for an LR input of this size ...
    'cost_num_feat': 64,  # ... at its retraining width
    'entropy_weight': 1.0,  # weight of the mean per-decision entropy added to the reward (paper: 1)
    'baseline_decay': 0.95,
    'weight_steps': 100,  # weight steps between two controller rounds (an epoch's worth in Algorithm 1)
    'controller_steps': 10,  # controller steps per round
    'weight_sampling': 'strategy',  # architectures of the weight steps: the strategy's, or 'uniform' (any strategy)
    'uniform_iter': 0,  # the first weight steps sample uniformly and the controller waits for them
    'max_identity': None,  # at most this many identity edges in the normal cell (every sampler); null: no cap
    'reward_psnr': 'absolute',  # or 'relative': minus a fixed reference architecture's PSNR on the same batch
}


def lambdas_of(search):
    """The search's lambdas as a tuple (one per controller)."""
    return tuple(search['lambda']) if isinstance(search['lambda'], list) else (search['lambda'],)


def build_controllers(build, net_c_opt, search):
    """The search's ``network_c``: ``build(net_c_opt)`` for one lambda, an nn.ModuleList of one per lambda otherwise
    (sharing the supernet: a Pareto front from one search); ``search.max_identity`` is passed on to each."""
    if search['max_identity'] is not None:
        net_c_opt = dict(net_c_opt, max_identity=search['max_identity'])
    count = len(lambdas_of(search))
    return build(net_c_opt) if count == 1 else nn.ModuleList(build(net_c_opt) for _ in range(count))


def check_controller_state(checkpoint, search, path):
    """Raise ValueError unless the ``network_c`` checkpoint (its state dict, or BasicSR's ``{'params': ...}``, read
    from ``path``) holds one controller per lambda of ``search`` (an nn.ModuleList's keys start with the index)."""
    state = checkpoint.get('params', checkpoint) if isinstance(checkpoint, dict) else {}
    heads = {key.split('.', 1)[0] for key in state}
    found = len(heads) if heads and all(head.isdigit() for head in heads) else 1
    wanted = len(lambdas_of(search))
    if found != wanted:
        raise ValueError(f'{path}: holds {found} controller(s), one per lambda of the search that wrote it; '
                         f"search.lambda {search['lambda']!r} needs {wanted}")


def controllers_of(net_c):
    """The controllers of a ``network_c`` built by :func:`build_controllers`, one per lambda."""
    return list(net_c) if isinstance(net_c, nn.ModuleList) else [net_c]


def search_options(opt):
    """The ``search`` block of the options with defaults filled in and values checked."""
    if not isinstance(opt.get('search') or {}, dict):
        raise ValueError(f"search: expected a mapping, got {opt['search']!r}")
    unknown = set(opt.get('search') or {}) - set(SEARCH_DEFAULTS)
    if unknown:
        raise ValueError(f'search: unknown key(s) {", ".join(sorted(unknown))}; expected {", ".join(SEARCH_DEFAULTS)}')
    search = dict(SEARCH_DEFAULTS, **(opt.get('search') or {}))
    if search['strategy'] not in ('controller', 'random'):
        raise ValueError(f"search.strategy: expected 'controller' or 'random', got {search['strategy']!r}")
    if search['weight_sampling'] not in ('strategy', 'uniform'):
        raise ValueError(f"search.weight_sampling: expected 'strategy' or 'uniform', got {search['weight_sampling']!r}")
    if isinstance(search['uniform_iter'], bool) or not isinstance(search['uniform_iter'], int) or \
            search['uniform_iter'] < 0:
        raise ValueError(f"search.uniform_iter: expected an integer >= 0, got {search['uniform_iter']!r}")
    if search['reward_psnr'] not in ('absolute', 'relative'):
        raise ValueError(f"search.reward_psnr: expected 'absolute' or 'relative', got {search['reward_psnr']!r}")
    if search['cost'] not in ('macs', 'latency'):
        raise ValueError(f"search.cost: expected 'macs' or 'latency', got {search['cost']!r}")
    if (search['cost'] == 'latency') != isinstance(search['latency_table'], str):
        raise ValueError('search.latency_table: cost: latency needs the path of a latency table (build one with '
                         'tools/build_latency_table.py), and only it takes one; got '
                         f"cost {search['cost']!r}, latency_table {search['latency_table']!r}")
    lambdas = search['lambda'] if isinstance(search['lambda'], list) else [search['lambda']]
    if not lambdas or len(set(lambdas)) < len(lambdas) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in lambdas):
        raise ValueError('search.lambda: expected a number in [0, 1] or a list of distinct ones, got '
                         f"{search['lambda']!r}")
    if len(lambdas) > 1 and search['strategy'] == 'random':
        raise ValueError("search.lambda: a list (one controller per lambda) needs strategy: controller; random search "
                         "rewards nothing during the search: derive it at any lambda (tools/derive.py --lambda)")
    if isinstance(search['cost_unit'], bool) or not isinstance(search['cost_unit'], (int, float)) or \
            not search['cost_unit'] > 0:
        raise ValueError(f'search.cost_unit: expected a positive number (G multiply-adds, or ms), '
                         f"got {search['cost_unit']!r}")
    size = search['cost_lr_size']
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ValueError(f'search.cost_lr_size: expected [H, W], two positive integers, got {size!r}')
    entropy_weight, decay = search['entropy_weight'], search['baseline_decay']
    if isinstance(entropy_weight, bool) or not isinstance(entropy_weight, (int, float)) or entropy_weight < 0:
        raise ValueError(f'search.entropy_weight: expected a number >= 0, got {entropy_weight!r}')
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
        raise ValueError(f'search.baseline_decay: expected a number in [0, 1), got {decay!r}')
    try:
        space.check_max_identity(search['max_identity'])
    except ValueError as exc:
        raise ValueError(f'search.{exc}') from None
    for key in ('weight_steps', 'controller_steps', 'cost_num_feat'):
        if isinstance(search[key], bool) or not isinstance(search[key], int) or search[key] < 1:
            raise ValueError(f'search.{key}: expected a positive integer, got {search[key]!r}')
    return search


class SearchObjective:
    """Sampling, scoring and rewarding architectures of a supernet as the options' ``search`` block says.

    Args:
        search (dict): The options' ``search`` block, as :func:`search_options` returns it.
        hparams (dict): The supernet's ``hparams`` (``num_layers``, ``upscale``, ``num_in_ch``, ``num_out_ch``).
    """

    def __init__(self, search, hparams):
        self.options = search
        self.lambdas = lambdas_of(search)
        self.num_layers, self.scale = hparams['num_layers'], hparams['upscale']
        self.num_decisions = len(space.decisions(self.num_layers))
        self.cost_table = PathCostTable(self.options['cost_num_feat'], hparams['num_layers'], hparams['upscale'],
                                        hparams['num_in_ch'], hparams['num_out_ch'],
                                        tuple(self.options['cost_lr_size']))
        self.latency_table = None
        if self.options['cost'] == 'latency':
            expect = dict(network_settings(hparams, self.options['cost_num_feat']),
                          lr_size=list(self.options['cost_lr_size']))
            try:
                self.latency_table = LatencyTable(self.options['latency_table'], expect)
            except OSError as exc:
                raise ValueError(f'search.latency_table: cannot read {self.options["latency_table"]}: '
                                 f'{exc.strerror}') from None

    def sample(self, controller, generator, rng, greedy=False, uniform=False):
        """(genotype, log-probability, entropy) of one architecture: the controller's sample (``greedy``: its most
        likely one), or with the random strategy or ``uniform`` a uniform one (``rng``, a random.Random) without
        log-probability and entropy (None)."""
        if (uniform or self.options['strategy'] == 'random') and not greedy:
            return space.random_genotype(self.num_layers, rng, self.options['max_identity']), None, None
        result = controller.sample(greedy=greedy, generator=generator)
        return result.genotype, result.log_prob, result.entropy

    def reference(self, seed):
        """With ``reward_psnr: relative``, the architecture whose PSNR on the same batch is subtracted from each
        sample's in the controller's reward: drawn uniformly from the space with ``seed``, fixed for the search (a
        control variate: it does not depend on the sample, so the policy gradient stays unbiased); otherwise, and under
        random search (which rewards nothing), None."""
        if self.options['reward_psnr'] == 'absolute' or self.options['strategy'] == 'random':
            return None
        return space.random_genotype(self.num_layers, random.Random(f'reference-{seed}'), self.options['max_identity'])

    def psnr(self, supernet, genotype, lq, gt, batch=None):
        """Mean PSNR (dB) of the supernet's path ``genotype`` over the (lq, gt) patches, ``batch`` at a time (default:
        all at once): on Y, a gray patch on its own channel, ``scale`` pixels of border cropped."""
        batch = batch or len(lq)
        psnrs = []
        with torch.no_grad():
            for i in range(0, len(lq), batch):
                sr = supernet(lq[i:i + batch], genotype).clamp(0, 1)
                psnrs.append(psnr_pt(sr, gt[i:i + batch], self.scale))
        return torch.cat(psnrs).mean().item()

    def cost(self, genotype):
        """Cost of ``genotype`` in ``cost_unit``: G multiply-adds (:attr:`cost_table`), or with ``cost: latency`` ms
        (:attr:`latency_table`)."""
        if self.latency_table is not None:
            return self.latency_table.latency_ms(genotype) / self.options['cost_unit']
        return self.cost_table.cost(genotype).macs / (self.options['cost_unit'] * 1e9)

    def reward(self, psnr, cost, lam=None):
        """``lam * psnr - (1 - lam) * cost``, cost in cost units; ``lam`` defaults to the search's (first) lambda."""
        return reward(psnr, cost, self.lambdas[0] if lam is None else lam, 1.0)

    def entropy_bonus(self, entropy):
        """``entropy_weight`` times the controller sample's mean entropy per decision (a tensor)."""
        return self.options['entropy_weight'] * float(entropy.detach()) / self.num_decisions
