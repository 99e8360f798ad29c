"""hnas_basicsr.images: reading HR images (with their grayscale flag), modcrop, 8-bit MATLAB-style bicubic."""
import cv2
import numpy as np

from hnas_basicsr.images import imresize_uint8, modcrop, read_image


def test_a_single_channel_file_is_gray_an_rgb_file_of_gray_content_is_not(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (10, 12)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'gray.png'), gray)
    cv2.imwrite(str(tmp_path / 'rgb.png'), np.repeat(gray[..., None], 3, axis=2))
    img, is_gray = read_image(str(tmp_path / 'gray.png'))
    assert is_gray and img.shape == (10, 12, 3) and (img == gray[..., None]).all()
    assert read_image(str(tmp_path / 'rgb.png'))[1] is False
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    assert read_image(str(tmp_path / 'bad.png')) is None


def test_modcrop_keeps_the_top_left_multiple_of_the_scale():
    img = np.arange(50 * 62).reshape(50, 62)
    for mod, shape in ((2, (50, 62)), (3, (48, 60)), (4, (48, 60)), (12, (48, 60))):
        assert modcrop(img, mod).shape == shape
    np.testing.assert_array_equal(modcrop(img, 3), img[:48, :60])


def test_imresize_uint8_gives_uint8_images_of_exactly_the_scaled_size():
    img = np.random.default_rng(0).integers(0, 256, (48, 60, 3)).astype(np.uint8)
    for scale in (2, 3, 4):
        lr = imresize_uint8(img, 1 / scale)
        assert lr.dtype == np.uint8 and lr.shape == (48 // scale, 60 // scale, 3)
        assert imresize_uint8(lr, scale).shape == img.shape
