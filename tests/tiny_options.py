"""Tiny option files with the structure of the shipped ones, for runs on the data sets below (made by the tests)."""
import copy

from hnas_basicsr.nas.genotype import published_genotypes

TINY = 'datasets/tiny'  # 5 images 48x60: 4 train (12 sub-images of 24x24 each), 1 held out
SINGLE = 'datasets/single'  # 3 images 24x24: 2 train (one sub-image each), 1 held out


def schedule():
    # The cosine period is longer than any total_iter used here: a resumed run restores its scheduler from the
    # training state (periods included) and basicsr's CosineAnnealingRestartLR fails past the end of its periods.
    return {'type': 'CosineAnnealingRestartLR', 'periods': [20], 'restart_weights': [1], 'eta_min': 1e-5}


def retrain_options(name='retrain_tiny', total_iter=10, dataroot=TINY):
    genotype = published_genotypes()['HNAS_A'].to_dict()
    genotype['position'] = 2
    return {
        'name': name,
        'model_type': 'SRModel',
        'scale': 2,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'tiny', 'type': 'PairedImageDataset',
                'dataroot_gt': f'{dataroot}/GTmod12_sub.lmdb', 'dataroot_lq': f'{dataroot}/LRbicx2_sub.lmdb',
                'io_backend': {'type': 'lmdb'},
                'gt_size': 24, 'use_hflip': True, 'use_rot': True,
                'num_worker_per_gpu': 0, 'batch_size_per_gpu': 4, 'dataset_enlarge_ratio': 1, 'prefetch_mode': None,
            },
            'val': {
                'name': 'tiny_holdout', 'type': 'PairedImageDataset',
                'dataroot_gt': f'{dataroot}/val/GTmod12', 'dataroot_lq': f'{dataroot}/val/LRbicx2',
                'io_backend': {'type': 'disk'},
            },
        },
        'network_g': {'type': 'HNASNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 4, 'num_layers': 3,
                      'upscale': 2, 'img_range': 255., 'rgb_mean': [0.4488, 0.4371, 0.4040], 'genotype': genotype},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'ema_decay': 0,
            'optim_g': {'type': 'Adam', 'lr': 1e-3, 'weight_decay': 0, 'betas': [0.9, 0.999]},
            'scheduler': schedule(),
            'total_iter': total_iter,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        },
        'val': {'val_freq': 5, 'save_img': False, 'metrics': {
            'psnr': {'type': 'calculate_psnr', 'crop_border': 2, 'test_y_channel': True},
            'ssim': {'type': 'calculate_ssim', 'crop_border': 2, 'test_y_channel': True},
        }},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': True},
        'dist_params': {'backend': 'gloo', 'port': 29500},
    }


def search_options(name, total_iter, dataroot=SINGLE, batch_size=1, weights_ratio=0.5):
    """Tiny HNAS search. On SINGLE each split holds one 24x24 sample, taken whole with no flip: every batch is
    the same, whatever basicsr's data loaders and global random state do after a resume."""
    return {
        'name': name,
        'model_type': 'HNASSearchModel',
        'scale': 2,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'search', 'type': 'HNASSplitDataset', 'split': 'weights', 'weights_ratio': weights_ratio,
                'split_seed': 0,
                'dataroot_gt': f'{dataroot}/GTmod12_sub.lmdb', 'dataroot_lq': f'{dataroot}/LRbicx2_sub.lmdb',
                'io_backend': {'type': 'lmdb'},
                'gt_size': 24, 'use_hflip': False, 'use_rot': False,
                'num_worker_per_gpu': 0, 'batch_size_per_gpu': batch_size, 'dataset_enlarge_ratio': 1,
                'prefetch_mode': None,
            },
            'val': {
                'name': 'search_holdout', 'type': 'PairedImageDataset',
                'dataroot_gt': f'{dataroot}/val/GTmod12', 'dataroot_lq': f'{dataroot}/val/LRbicx2',
                'io_backend': {'type': 'disk'},
            },
        },
        'network_g': {'type': 'HNASSuperNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 2, 'num_layers': 3,
                      'upscale': 2},
        'network_c': {'type': 'HNASController', 'num_layers': 3, 'hidden_size': 16},
        'search': {'strategy': 'controller', 'lambda': 0.6, 'cost_unit': 1.0, 'cost_lr_size': [24, 24],
                   'cost_num_feat': 2, 'entropy_weight': 1.0, 'baseline_decay': 0.95, 'weight_steps': 2,
                   'controller_steps': 2},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'pretrain_network_c': None,
                 'resume_state': None},
        'train': {
            'ema_decay': 0,
            'optim_g': {'type': 'Adam', 'lr': 1e-3, 'weight_decay': 0, 'betas': [0.9, 0.999]},
            'optim_c': {'type': 'Adam', 'lr': 3e-4, 'betas': [0.9, 0.999]},
            'scheduler': schedule(),
            'scheduler_c': dict(schedule(), eta_min=1.5e-4),
            'total_iter': total_iter,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        },
        'val': {'val_freq': 3, 'save_img': False, 'metrics': {
            'psnr': {'type': 'calculate_psnr', 'crop_border': 2, 'test_y_channel': True},
        }},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 3, 'use_tb_logger': True},
        'dist_params': {'backend': 'gloo', 'port': 29500},
    }


def parsed(opt, out):
    """``opt`` without datasets, completed as basicsr's option parser does for a single-process training run whose
    models and training states go to ``out``: ``basicsr.models.build_model`` takes it."""
    opt = copy.deepcopy(opt)
    opt.pop('datasets')
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path=str(out))
    opt['path'].update(models=str(out), training_states=str(out))
    return opt
