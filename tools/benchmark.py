"""Benchmark BasicSR models beside bicubic: PSNR/SSIM, params, multiply-adds and latency, as a Table II.

Usage::

    python tools/benchmark.py -opt options/test/EDSR/test_EDSR_Bx2.yml options/test/HNAS/test_HNAS_A_x2.yml \\
        --sets datasets/Set5 datasets/Set14 --out results/benchmark_x2

``-opt`` takes BasicSR option files of any registered arch (HNASNet, EDSR, RCAN, ...). The weights are
``path.pretrain_network_g``, or else the option file's own training run (``experiments/<name>/models/
net_g_latest.pth``). ``--sets`` takes test sets prepared by ``tools/prepare_data.py <HR folder> --no-sub-images``
(GTmod12/ and LRbicx{2,3,4}/). Writes ``<out>/benchmark.md`` (the table and its protocol), ``benchmark.csv``
and ``psnr_vs_macs.png``. Errors print one line on stderr and exit with status 2.
"""
import argparse
import csv
import os
import sys

import hnas_basicsr.archs  # noqa: F401  (before basicsr; registers the networks)
import torch

from hnas_basicsr.benchmark import BICUBIC, evaluate, evaluate_bicubic, load_model, load_test_set
from hnas_basicsr.cli import ToolError, run_tool
from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, protocol


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', nargs='+', required=True, help='BasicSR option files, one per model')
    parser.add_argument('--labels', nargs='+', help='model names in the table (default: the option names)')
    parser.add_argument('--sets', nargs='+', required=True, help='prepared test set folders')
    parser.add_argument('--scale', type=int, choices=(2, 3, 4), help='default: the first model\'s')
    parser.add_argument('--tile', type=int, default=512, help='LR tile size in px; 0: whole images (default 512)')
    parser.add_argument('--overlap', type=int, default=32, help='LR context px around each tile (default 32)')
    parser.add_argument('--runs', type=int, default=3, help='timed runs per image (default 3)')
    parser.add_argument('--threads', type=int, help='CPU threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu', help='cpu (default) or cuda[:N]')
    parser.add_argument('--out', default='results/benchmark', help='output folder (default results/benchmark)')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.opt):
        parser.error(f'--labels: {len(args.labels)} names for {len(args.opt)} option files')
    if args.tile < 0 or args.overlap < 0 or args.runs < 1 or (args.threads is not None and args.threads < 1):
        parser.error('--tile and --overlap take integers >= 0, --runs and --threads integers >= 1')
    return args


def device_of(name):
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ToolError(f'--device: {name!r} is not a device (cpu, cuda, cuda:1, ...)') from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ToolError(f'--device {name}: no CUDA device here; use --device cpu')
    return device


def rows_of(models, sets, results, scale):
    """One row per model (bicubic first): the CSV columns."""
    rows = []
    for label, params, macs in [(BICUBIC, None, None)] + [(m.label, m.params, m.macs) for m in models]:
        row = {'Model': label, 'Scale': scale, 'Params (M)': '-' if params is None else f'{params / 1e6:.3f}',
               'Mult-Adds (G)': '-' if macs is None else f'{macs / 1e9:.1f}'}
        for test_set in sets:
            r = results[label, test_set.name]
            row.update({f'{test_set.name} PSNR': f'{r["psnr"]:.4f}', f'{test_set.name} SSIM': f'{r["ssim"]:.4f}',
                        f'{test_set.name} ms/img': '-' if r['ms'] is None else f'{r["ms"]:.1f}'})
        rows.append(row)
    return rows


def markdown(rows, sets, args, threads, device):
    """The table in Table II's layout, then its protocol."""
    names = [s.name for s in sets]
    head = ['Scale', 'Model', 'Mult-Adds (G)', 'Params (M)'] + [f'{n} PSNR/SSIM' for n in names] + \
        [f'{n} ms/img' for n in names]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [f'x{r["Scale"]}', r['Model'], r['Mult-Adds (G)'], r['Params (M)']]
        cells += [f'{float(r[f"{n} PSNR"]):.2f} / {float(r[f"{n} SSIM"]):.4f}' for n in names]
        cells += [r[f'{n} ms/img'] for n in names]
        lines.append('| ' + ' | '.join(cells) + ' |')
    tiling = (f'LR tiles of {args.tile} px with {args.overlap} px of context (images no larger run whole)'
              if args.tile else 'whole images')
    return lines + [
        '',
        '- PSNR/SSIM: mean over the images; Y channel, border of `scale` px cropped, 8-bit output; basicsr\'s '
        'calculate_psnr / calculate_ssim. LR: MATLAB-style bicubic (tools/prepare_data.py).',
        f'- Multiply-adds and params: {protocol(DEFAULT_LR_SIZE, 3)}.',
        f'- Latency: {device}, {threads} threads, {tiling}; median of {args.runs} runs per image after one warm-up '
        'pass, mean over the images; decoding and metrics excluded.',
    ]


def plot(rows, sets, path):
    """PSNR against multiply-adds, one panel per test set, one labelled point per model; bicubic dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), squeeze=False)
    for ax, test_set in zip(axes[0], sets):
        key = f'{test_set.name} PSNR'
        for r in rows:
            if r['Model'] == BICUBIC:
                ax.axhline(float(r[key]), color='gray', linestyle='--', label=BICUBIC)
            else:
                ax.scatter(float(r['Mult-Adds (G)']), float(r[key]))
                ax.annotate(r['Model'], (float(r['Mult-Adds (G)']), float(r[key])), fontsize=8,
                            textcoords='offset points', xytext=(4, 4))
        ax.set(xscale='log', xlabel=f'multiply-adds (G, {DEFAULT_LR_SIZE[0]}x{DEFAULT_LR_SIZE[1]} LR)',
               ylabel='PSNR (dB, Y)', title=f'{test_set.name} x{rows[0]["Scale"]}')
        ax.legend(loc='lower right', fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def benchmark(args):
    device = device_of(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    labels = args.labels or [None] * len(args.opt)
    models = []
    for path, label in zip(args.opt, labels):
        models.append(load_model(path, label, args.scale if args.scale else (models[0].scale if models else None)))
    scale = models[0].scale
    sets = [load_test_set(folder, scale) for folder in args.sets]
    print(f'benchmark: {len(models)} models + bicubic on {", ".join(s.name for s in sets)} at x{scale} '
          f'({device}, {torch.get_num_threads()} threads)', flush=True)
    results = {}
    for test_set in sets:
        results[BICUBIC, test_set.name] = evaluate_bicubic(test_set, scale)
        for model in models:
            results[model.label, test_set.name] = evaluate(model, test_set, device, args.tile, args.overlap,
                                                           args.runs)
            r = results[model.label, test_set.name]
            print(f'  {model.label} on {test_set.name}: {r["psnr"]:.2f} dB / {r["ssim"]:.4f}, {r["ms"]:.1f} ms/img',
                  flush=True)
    rows = rows_of(models, sets, results, scale)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'benchmark.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = markdown(rows, sets, args, torch.get_num_threads(), device)
    with open(os.path.join(args.out, 'benchmark.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    plot(rows, sets, os.path.join(args.out, 'psnr_vs_macs.png'))
    print('\n'.join(lines))
    print(f'benchmark: wrote {args.out}/benchmark.md, benchmark.csv, psnr_vs_macs.png')


def main(argv=None) -> int:
    return run_tool('benchmark.py', benchmark, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
