"""Benchmark BasicSR models beside bicubic: PSNR/SSIM, params, multiply-adds and latency, as a Table II.

Usage (``hnas-benchmark`` is the same command)::

    python tools/benchmark.py --sets datasets/Set5 datasets/Set14 --scales 2 3 4      # the bicubic rows
    python tools/benchmark.py -opt options/test/EDSR/test_EDSR_Bx2.yml options/test/HNAS/test_HNAS_A_x3.yml \\
        --sets datasets/Set5 datasets/Set14 --out results/benchmark

``-opt`` takes BasicSR option files of any registered arch (HNASNet, EDSR, RCAN, ...) and of any scales: one
table holds every scale (``--scales``, default: the models' scales, or 2 3 4 without models), a bicubic row
first at each. The weights are ``path.pretrain_network_g``, or else the option file's own training run
(``experiments/<name>/models/net_g_latest.pth``). ``--sets`` takes folders of HR images, or folders holding them
in ``HR/`` (``tools/prepare_data.py <HR folder> --no-sub-images`` writes one). The published protocol: the HR
cropped to a multiple of the scale, its MATLAB-style bicubic LR, Y rounded to 8 bits, grayscale images on
their own channel (:mod:`hnas_basicsr.metrics`). Writes ``<out>/benchmark.md`` (the table and its protocol),
``benchmark.csv``, ``benchmark_sources.json`` (what each row was scored from) and ``psnr_vs_macs.png``. With
``--reuse`` a model keeps its row of the ``benchmark.csv`` already in ``--out`` when that run scored it from the same
checkpoint file (path, size, modification time) with the same tiling, device, threads, compilation and runs, and
the row holds every set of this run: adding a model to a table scores only it. Errors print one line on stderr and
exit with status 2.
"""
import argparse
import csv
import json
import os
import sys

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch

from hnas_basicsr.benchmark import (BICUBIC, evaluate, evaluate_bicubic, load_hr, load_model, pairs_at, set_name,
                                    table_latency)
from hnas_basicsr.cli import ToolError, run_tool
from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, protocol
from hnas_basicsr.nas.latency import LatencyTable


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', nargs='+', default=[], help='BasicSR option files, one per model (default: '
                        'bicubic only)')
    parser.add_argument('--labels', nargs='+', help='model names in the table (default: the option names)')
    parser.add_argument('--sets', nargs='+', required=True, help='test set folders (HR images, or HR/ in them)')
    parser.add_argument('--scales', type=int, nargs='+', choices=(2, 3, 4),
                        help='default: the models\' scales, or 2 3 4 without models')
    parser.add_argument('--tile', type=int, default=512, help='LR tile size in px; 0: whole images (default 512)')
    parser.add_argument('--overlap', type=int, default=32, help='LR context px around each tile (default 32)')
    parser.add_argument('--runs', type=int, default=3, help='timed runs per image; latency: their median and '
                        'range (default 3)')
    parser.add_argument('--threads', type=int, help='CPU threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu', help='cpu (default) or cuda[:N]')
    parser.add_argument('--out', default='results/benchmark', help='output folder (default results/benchmark)')
    parser.add_argument('--compile', action='store_true', help='torch.compile each network (dynamic shapes; the '
                        'compilation, tens of seconds per network, falls in the warm-up pass)')
    parser.add_argument('--reuse', action='store_true', help='keep the rows of <out>/benchmark.csv of models scored '
                        'from the same checkpoint file with the same options; score only the others (and bicubic)')
    parser.add_argument('--latency-table', metavar='FILE', help='a table of tools/build_latency_table.py: each '
                        'model is also timed on one input of its LR size, beside the latency the table predicts')
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


def rows_of(models, sets, results, scales):
    """One row per scale and model (bicubic first at each scale): the CSV columns."""
    rows = []
    for scale in scales:
        for label, params, macs in [(BICUBIC, None, None)] + [(m.label, m.params, m.macs) for m in models
                                                               if m.scale == scale]:
            row = {'Model': label, 'Scale': scale, 'Params (M)': '-' if params is None else f'{params / 1e6:.3f}',
                   'Mult-Adds (G)': '-' if macs is None else f'{macs / 1e9:.1f}'}
            for name in sets:
                r = results[label, name, scale]
                row.update({f'{name} PSNR': f'{r["psnr"]:.4f}', f'{name} SSIM': f'{r["ssim"]:.4f}'})
                row.update({f'{name} {key}': '-' if r[k] is None else f'{r[k]:.1f}'
                            for key, k in (('ms/img', 'ms'), ('ms/img min', 'ms_min'), ('ms/img max', 'ms_max'))})
            rows.append(row)
    return rows


def scored_with(model, args):
    """What a model's rows depend on besides its label: its checkpoint file (path, size, modification time) and the
    options that change the scores (tiling, device, threads, compilation, runs)."""
    stat = os.stat(model.checkpoint)
    return [os.path.abspath(model.checkpoint), stat.st_size, stat.st_mtime_ns, args.tile, args.overlap, args.device,
            torch.get_num_threads(), args.compile, args.runs]


def reusable_results(out, models, sets, sources):
    """Results of ``models`` (label, set, scale) -> dict as :func:`evaluate` gives, read back from an earlier
    ``<out>/benchmark.csv``: only models whose row (label and scale) holds every set of ``sets`` and which that run
    scored from what ``sources`` (``'<label> x<scale>'`` -> :func:`scored_with`) gives now, as its
    ``<out>/benchmark_sources.json`` says; none if either file is missing or unreadable."""
    try:
        with open(os.path.join(out, 'benchmark_sources.json')) as f:
            before = json.load(f)
        with open(os.path.join(out, 'benchmark.csv'), newline='') as f:
            rows = {(row['Model'], int(row['Scale'])): row for row in csv.DictReader(f)}
    except (OSError, ValueError, KeyError):
        return {}

    def number(value):
        return None if value == '-' else float(value)

    results = {}
    for model in models:
        old = rows.get((model.label, model.scale))
        source = f'{model.label} x{model.scale}'
        if old is None or before.get(source) != sources[source]:
            continue
        try:
            kept = {(model.label, name, model.scale): {
                'psnr': float(old[f'{name} PSNR']), 'ssim': float(old[f'{name} SSIM']),
                **{k: number(old[f'{name} {key}']) for key, k in (('ms/img', 'ms'), ('ms/img min', 'ms_min'),
                                                                   ('ms/img max', 'ms_max'))}} for name in sets}
        except (KeyError, ValueError, TypeError):  # a row of another layout: scored again
            continue
        results.update(kept)
    return results


def latency_cell(row, name):
    """'median (min-max)' ms per image, or '-'."""
    if row[f'{name} ms/img'] == '-':
        return '-'
    return f'{row[f"{name} ms/img"]} ({row[f"{name} ms/img min"]}-{row[f"{name} ms/img max"]})'


def gray_note(gray, counts):
    """The protocol line on grayscale images: which images of each set were scored on their own channel."""
    found = [f'{name}: {len(images)} of {counts[name]} ({", ".join(images)})' for name, images in gray.items()
             if images]
    return ('- Grayscale images (single-channel files) are scored on their own channel, not on the Y of their '
            f'replicated RGB: {"; ".join(found) if found else "none in these sets"}.')


def markdown(rows, sets, gray, args, threads, device, reused=()):
    """The table in Table II's layout, then its protocol (``reused``: the models whose rows an earlier run
    scored)."""
    names = list(sets)
    head = ['Scale', 'Model', 'Mult-Adds (G)', 'Params (M)'] + [f'{n} PSNR/SSIM' for n in names] + \
        [f'{n} ms/img' for n in names]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [f'x{r["Scale"]}', r['Model'], r['Mult-Adds (G)'], r['Params (M)']]
        cells += [f'{float(r[f"{n} PSNR"]):.2f} / {float(r[f"{n} SSIM"]):.4f}' for n in names]
        cells += [latency_cell(r, n) for n in names]
        lines.append('| ' + ' | '.join(cells) + ' |')
    tiling = (f'LR tiles of {args.tile} px with {args.overlap} px of context (images no larger run whole)'
              if args.tile else 'whole images')
    return lines + [
        '',
        '- Data: the HR image cropped to a multiple of the scale (not of 12), its LR the MATLAB-style bicubic '
        'downscaling of that crop, rounded to 8 bits.',
        '- PSNR/SSIM: mean over the images; the 8-bit output on Y (BT.601) rounded to 8 bits, as MATLAB\'s '
        'rgb2ycbcr of a uint8 image; border of `scale` px cropped; basicsr\'s calculate_psnr / calculate_ssim on '
        'that channel (SSIM: 11x11 Gaussian window, sigma 1.5). Measured on Set5 and Set14 bicubic: the published '
        'rows to -0.001 to -0.017 dB and SSIM -0.0002 to -0.0004 (float Y, as basicsr: SSIM +0.0004 to +0.0009).',
        gray_note(gray, {n: len(s) for n, s in sets.items()}),
        f'- Multiply-adds and params: {protocol(DEFAULT_LR_SIZE, 3)}.',
        f'- Latency: {device}, {threads} threads, {tiling}'
        f'{", every network torch.compiled (inductor, dynamic shapes)" if args.compile else ""}; one warm-up pass, '
        f'then {args.runs} timed runs per '
        'image; per run the mean over the images: median (min-max) over the runs; decoding and metrics excluded.',
    ] + ([f'- Rows kept from an earlier run of this table (`--reuse`; their latency was measured then): '
          f'{", ".join(reused)}.'] if reused else [])


def latency_table_lines(models, table, device, runs):
    """The table's predicted latency beside the measured one for each model, as markdown lines (printed as
    measured)."""
    t = table.table
    size = 'x'.join(map(str, t['lr_size']))
    lines = ['', f'Latency table {table.source} ({t["device"]}): one {size} LR input, batch 1, median of {runs} '
             'calls after a warm-up', '', '| Model | predicted (ms) | measured (ms) | predicted / measured |',
             '|---|---|---|---|']
    for model in models:
        predicted, measured, why = table_latency(model, table, device, runs)
        ratio = f'{predicted / measured:.2f}' if predicted is not None else f'- ({why})'
        lines.append(f'| {model.label} | {"-" if predicted is None else f"{predicted:.1f}"} | '
                     f'{"-" if measured is None else f"{measured:.1f}"} | {ratio} |')
        print(f'  {model.label}: ' + (f'predicted {predicted:.1f} ms, ' if predicted is not None else '') +
              (f'measured {measured:.1f} ms' if measured is not None else '') +
              (f' ({why})' if why else '') + f' on a {size} LR input', flush=True)
    return lines


def plot(rows, sets, scales, path):
    """PSNR against multiply-adds, one panel per scale and test set, one labelled point per model; bicubic
    dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(scales), len(sets), figsize=(5 * len(sets), 4 * len(scales)), squeeze=False)
    for ax_row, scale in zip(axes, scales):
        for ax, name in zip(ax_row, sets):
            key = f'{name} PSNR'
            for r in (r for r in rows if r['Scale'] == scale):
                if r['Model'] == BICUBIC:
                    ax.axhline(float(r[key]), color='gray', linestyle='--', label=BICUBIC)
                else:
                    ax.scatter(float(r['Mult-Adds (G)']), float(r[key]))
                    ax.annotate(r['Model'], (float(r['Mult-Adds (G)']), float(r[key])), fontsize=8,
                                textcoords='offset points', xytext=(4, 4))
            ax.set(xscale='log', xlabel=f'multiply-adds (G, {DEFAULT_LR_SIZE[0]}x{DEFAULT_LR_SIZE[1]} LR)',
                   ylabel='PSNR (dB, Y)', title=f'{name} x{scale}')
            ax.legend(loc='lower right', fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def benchmark(args):
    device = device_of(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    table = None
    if args.latency_table:
        try:
            table = LatencyTable(args.latency_table)
        except (OSError, ValueError) as exc:
            raise ToolError(f'--latency-table {args.latency_table}: {getattr(exc, "strerror", None) or exc}') from None
    labels = args.labels or [None] * len(args.opt)
    models = [load_model(path, label, args.scales, args.compile) for path, label in zip(args.opt, labels)]
    scales = sorted(set(args.scales or [m.scale for m in models] or (2, 3, 4)))
    sets = {set_name(folder): load_hr(folder) for folder in args.sets}
    if len(sets) < len(args.sets):
        raise ToolError(f'--sets: two folders have the same name ({" ".join(args.sets)}); the table names sets by '
                        'folder')
    print(f'benchmark: {len(models)} models + bicubic on {", ".join(sets)} at x{", x".join(map(str, scales))} '
          f'({device}, {torch.get_num_threads()} threads)', flush=True)
    sources = {f'{m.label} x{m.scale}': scored_with(m, args) for m in models}  # as loaded
    results = reusable_results(args.out, models, sets, sources) if args.reuse else {}
    reused = sorted({label for label, _, _ in results})
    if reused:
        print(f'benchmark: {len(reused)} models keep their rows of {args.out}/benchmark.csv (--reuse)', flush=True)
    gray = {}
    for name, images in sets.items():
        for scale in scales:
            test_set = pairs_at(name, images, scale)
            gray[name] = test_set.gray
            results[BICUBIC, name, scale] = evaluate_bicubic(test_set)
            for model in (m for m in models if m.scale == scale and (m.label, name, scale) not in results):
                r = results[model.label, name, scale] = evaluate(model, test_set, device, args.tile, args.overlap,
                                                                 args.runs)
                print(f'  {model.label} on {name} x{scale}: {r["psnr"]:.2f} dB / {r["ssim"]:.4f}, '
                      f'{r["ms"]:.1f} ms/img', flush=True)
    rows = rows_of(models, sets, results, scales)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'benchmark.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out, 'benchmark_sources.json'), 'w') as f:
        json.dump(sources, f, indent=1)
    lines = markdown(rows, sets, gray, args, torch.get_num_threads(), device, reused)
    if table:
        lines += latency_table_lines(models, table, device, args.runs)
    with open(os.path.join(args.out, 'benchmark.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    plot(rows, sets, scales, os.path.join(args.out, 'psnr_vs_macs.png'))
    print('\n'.join(lines))
    print(f'benchmark: wrote {args.out}/benchmark.md, benchmark.csv, psnr_vs_macs.png')


def main(argv=None) -> int:
    return run_tool('benchmark.py', benchmark, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
