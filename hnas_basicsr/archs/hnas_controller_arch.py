"""HNASController: the three ENAS-style LSTM controllers that sample an HNAS architecture.

The controller knows only the ordered decisions of :mod:`hnas_basicsr.nas.space` (names and sizes), never
the cells. A normal-cell and an upsampling-cell controller each run one ``nn.LSTMCell`` over their cell's
decisions (per node: input 1, input 2, op 1, op 2); a network-level controller, started from both cell
controllers' final states, emits the upsampling position. Indices become a Genotype through
:func:`hnas_basicsr.nas.space.decode`.

Design (ENAS, Pham et al. 2018, where the paper is silent):
    - Per cell controller and decision kind ('input', 'op', the name's last part without its digit): one
      embedding table and one linear head, both of the kind's largest size; a decision of size n reads the
      head's first n logits (node i chooses its input among 0..i-1). The chosen token is embedded and fed to
      the LSTM, so a cell controller's final state has seen every decision of its cell.
    - Network level: ``h0 = tanh(W_h [h_N, h_U])``, ``c0 = W_c [c_N, c_U]`` (Linear 2*hidden -> hidden, so all
      three LSTMs keep the paper's hidden size), then one LSTM step on a learned start token and a linear head
      over the L positions; position = index + 1.
    - Logits: divided by ``temperature``, then clipped as ``tanh_constant * tanh(logits)``; each is skipped
      when None. Parameters start uniform in [-0.1, 0.1], so the initial policy is close to uniform.
    - ``max_identity``: once the normal cell holds that many identity edges, its later op decisions give identity
      probability zero (its logit masked), so every sample and the greedy architecture respect the cap.
"""
from typing import List, NamedTuple

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn import functional as F

from hnas_basicsr.archs.hnas_arch import check_positive_int
from hnas_basicsr.nas import space
from hnas_basicsr.nas.genotype import Genotype


class ControllerSample(NamedTuple):
    genotype: Genotype
    log_prob: torch.Tensor  # 0-dim, sum over all decisions, with grad
    entropy: torch.Tensor  # 0-dim, sum over all decisions, with grad
    indices: List[int]  # one per decision of space.decisions(num_layers)


class _Step(NamedTuple):
    index: int
    log_probs: torch.Tensor  # log-probabilities over the decision's choices

    @property
    def log_prob(self):
        return self.log_probs[self.index]

    @property
    def entropy(self):
        return -(self.log_probs.exp() * self.log_probs).sum()


_IDENTITY = space.NORMAL_OPS.index('identity')
_MASKED = -1e4


def _kind(decision):
    """'normal.node2.input1' -> 'input', 'upsampling.node3.op2' -> 'op'."""
    return decision.name.rsplit('.', 1)[-1].rstrip('0123456789')


class _CellController(nn.Module):
    """Parameters of one cell controller; :meth:`HNASController._cell_steps` runs it."""

    def __init__(self, decisions, hidden_size):
        super().__init__()
        self.decisions = decisions
        sizes = {}
        for decision in decisions:
            sizes[_kind(decision)] = max(sizes.get(_kind(decision), 0), decision.size)
        self.start = nn.Parameter(torch.empty(1, hidden_size))
        self.lstm = nn.LSTMCell(hidden_size, hidden_size)
        self.embeddings = nn.ModuleDict({kind: nn.Embedding(size, hidden_size) for kind, size in sizes.items()})
        self.heads = nn.ModuleDict({kind: nn.Linear(hidden_size, size) for kind, size in sizes.items()})


class _NetworkController(nn.Module):
    """Parameters of the network-level controller; :meth:`HNASController._position_step` runs it."""

    def __init__(self, num_layers, hidden_size):
        super().__init__()
        self.init_h = nn.Linear(2 * hidden_size, hidden_size)
        self.init_c = nn.Linear(2 * hidden_size, hidden_size)
        self.start = nn.Parameter(torch.empty(1, hidden_size))
        self.lstm = nn.LSTMCell(hidden_size, hidden_size)
        self.head = nn.Linear(hidden_size, num_layers)


@ARCH_REGISTRY.register()
class HNASController(nn.Module):
    """Samples HNAS architectures (normal cell, upsampling cell, upsampling position) with REINFORCE in mind.

    Args:
        num_layers (int): L, the number of upsampling positions. Default: 12.
        hidden_size (int): Hidden size of each of the three LSTMs. Default: 100.
        temperature (float | None): Logits are divided by it; None (default) leaves them. ENAS uses 5.0.
        tanh_constant (float | None): Logits are clipped to ``tanh_constant * tanh(logits)``; None disables.
            Default: 2.5.
        max_identity (int | None): At most this many identity edges in the normal cell (parameter-free edges,
            which a weight-sharing supernet favours; P-DARTS caps them); None (default): no cap. The search sets it
            from ``search.max_identity``.
    """

    def __init__(self, num_layers=12, hidden_size=100, temperature=None, tanh_constant=2.5, max_identity=None):
        super().__init__()
        check_positive_int('num_layers', num_layers)
        check_positive_int('hidden_size', hidden_size)
        space.check_max_identity(max_identity)
        self.max_identity = max_identity
        for name, value in (('temperature', temperature), ('tanh_constant', tanh_constant)):
            if value is not None and not value > 0:
                raise ValueError(f'{name}: expected a positive number or None, got {value!r}')
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.temperature, self.tanh_constant = temperature, tanh_constant
        self.cells = nn.ModuleDict(
            {kind: _CellController(space.cell_decisions(kind), hidden_size)
             for kind in space.CELL_KINDS})
        self.network = _NetworkController(num_layers, hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self):
        return self.sample()

    def sample(self, greedy=False, generator=None) -> ControllerSample:
        """Sample one architecture.

        Args:
            greedy (bool): Take the most likely choice at every decision instead of sampling.
            generator (torch.Generator | None): Source of randomness (on the parameters' device), for
                reproducible samples; None uses torch's global generator.
        """
        steps = self._steps(greedy=greedy, generator=generator)
        indices = [step.index for step in steps]
        return ControllerSample(
            space.decode(indices, self.num_layers), self._sum(steps, 'log_prob'), self._sum(steps, 'entropy'), indices)

    def log_prob(self, genotype):
        """Teacher-force a genotype (Genotype or mapping): its log-probability and the entropy sum, with grad."""
        genotype = Genotype.from_dict(genotype, self.num_layers)
        if self.max_identity is not None and space.identity_edges(genotype) > self.max_identity:
            raise ValueError(f'the genotype has {space.identity_edges(genotype)} identity edges in its normal cell; '
                             f'this controller samples at most {self.max_identity} (max_identity)')
        steps = self._steps(forced=space.encode(genotype))
        return self._sum(steps, 'log_prob'), self._sum(steps, 'entropy')

    @torch.no_grad()
    def probabilities(self) -> dict:
        """Probabilities along the greedy path, as plain lists for logging.

        Returns:
            dict: ``'position'``: P(position = 1..L); ``'normal.op'`` and ``'upsampling.op'``: the op
            distribution of that cell averaged over its op decisions (order of ``space.cell_ops``).
        """
        steps = self._steps(greedy=True)
        decisions = space.decisions(self.num_layers)
        probs = {'position': steps[-1].log_probs.exp().tolist()}
        for kind in space.CELL_KINDS:
            ops = [
                step.log_probs.exp() for d, step in zip(decisions, steps)
                if d.name.startswith(f'{kind}.') and _kind(d) == 'op'
            ]
            probs[f'{kind}.op'] = torch.stack(ops).mean(0).tolist()
        return probs

    def _steps(self, forced=None, greedy=False, generator=None) -> List[_Step]:
        """All decisions in the order of ``space.decisions``; ``forced`` indices teacher-force them."""
        n = len(space.cell_decisions('normal'))
        forced = forced or [None] * (2 * n + 1)
        normal, normal_state = self._cell_steps('normal', forced[:n], greedy, generator)
        upsampling, upsampling_state = self._cell_steps('upsampling', forced[n:2 * n], greedy, generator)
        position = self._position_step(normal_state, upsampling_state, forced[-1], greedy, generator)
        return normal + upsampling + [position]

    def _cell_steps(self, kind, forced, greedy, generator):
        """Run one cell controller over its decisions; return the steps and the final LSTM state."""
        cell = self.cells[kind]
        device = cell.start.device
        zeros = torch.zeros(1, self.hidden_size, device=device)
        h, c = cell.lstm(cell.start, (zeros, zeros))
        steps, identities = [], 0
        for decision, index in zip(cell.decisions, forced):
            normal_op = kind == 'normal' and _kind(decision) == 'op'
            capped = normal_op and self.max_identity is not None and identities >= self.max_identity
            step = self._decide(cell.heads[_kind(decision)](h)[0, :decision.size], index, greedy, generator,
                                banned=_IDENTITY if capped else None)
            identities += normal_op and step.index == _IDENTITY
            steps.append(step)
            token = cell.embeddings[_kind(decision)](torch.tensor([step.index], device=device))
            h, c = cell.lstm(token, (h, c))
        return steps, (h, c)

    def _position_step(self, normal_state, upsampling_state, index, greedy, generator):
        """The network-level decision, started from the concatenated cell-controller states [h_N, h_U]."""
        net = self.network
        h = torch.tanh(net.init_h(torch.cat([normal_state[0], upsampling_state[0]], 1)))
        c = net.init_c(torch.cat([normal_state[1], upsampling_state[1]], 1))
        h, _ = net.lstm(net.start, (h, c))
        return self._decide(net.head(h)[0], index, greedy, generator)

    def _decide(self, logits, index, greedy, generator, banned=None):
        """Apply temperature and tanh clipping (and give choice ``banned`` probability zero), then take ``index`` if
        given, else the argmax or a sample."""
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        if banned is not None:  # a finite mask: exp() is exactly 0, and 0 * log-probability stays 0 in the entropy
            logits = logits.index_fill(0, torch.tensor([banned], device=logits.device), _MASKED)
        log_probs = F.log_softmax(logits, dim=-1)
        if index is None:
            probs = log_probs.detach().exp()
            index = probs.argmax() if greedy else torch.multinomial(probs, 1, generator=generator)
        return _Step(int(index), log_probs)

    @staticmethod
    def _sum(steps, field):
        return torch.stack([getattr(step, field) for step in steps]).sum()
