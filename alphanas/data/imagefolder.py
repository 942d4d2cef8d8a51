"""A folder of images, one sub-folder per class (PNG, JPEG, BMP, WebP, read with Pillow).

    root/cat/001.png  root/dog/7.jpg ...                          (split stratified from ``seed``)
    root/train/cat/001.png  root/val/cat/...  root/test/cat/...   (the folder's own splits)

Class names are the sub-folder names, sorted; label *i* is the *i*-th name. ``image_size`` resizes
every image to ``image_size x image_size`` (box filter when shrinking, bilinear when enlarging);
without it every image must have the first image's size. ``channels`` is 1 (grey) or 3 (RGB),
by default the first image's. Files are scanned first and decoded one at a time straight into the
``uint8`` array at the target size (:class:`ImageFolder` gives lazy per-item access for loaders that
stream), so the folder's encoded images are never all in memory. A corrupt or unreadable image is an
error naming it, or, with ``skip_corrupt=True``, dropped and listed in ``Dataset.skipped``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphanas.data.arrays import dataset_from_arrays
from alphanas.data.dataset import Dataset
from alphanas.errors import AlphanasError, ParameterError

#: File name endings read as images (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Top-level folder names taken as the folder's own splits (``valid``/``validation`` also name ``val``).
SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


class CorruptImage(ParameterError):
    """An image file Pillow cannot decode (its message names the ``skip_corrupt`` option)."""

    def __init__(self, message: str) -> None:
        super().__init__("skip_corrupt", message)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass
class ImageFolder:
    """The scanned folder: ``files[split]`` lists ``(path, label)``; images are decoded on access."""

    root: Path
    class_names: list[str]
    files: dict[str, list[tuple[Path, int]]]
    image_size: int | None = None
    channels: int | None = None

    @classmethod
    def scan(cls, root: str | os.PathLike, image_size: int | None = None, channels: int | None = None) -> ImageFolder:
        """Find the classes and images under ``root`` (nothing is decoded); empty class folders are errors."""
        path = Path(root).expanduser()
        if not path.is_dir():
            raise AlphanasError(f"imagefolder: {str(path)!r} is not a folder; it must hold one sub-folder of images "
                                "per class")
        if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
            raise ParameterError("image_size", f"{{image_size}} {image_size}: must be a positive integer")
        if channels is not None and channels not in (1, 3):
            raise ParameterError("channels", f"{{channels}} {channels}: must be 1 (grey) or 3 (RGB)")
        tops = _class_folders(path)
        split_dirs = {SPLIT_FOLDERS[p.name.lower()]: p for p in tops if p.name.lower() in SPLIT_FOLDERS}
        if "train" in split_dirs:
            groups = {s: _class_folders(d) for s, d in split_dirs.items()}
            names = [p.name for p in groups["train"]]
            for s, folders in groups.items():
                extra = sorted({p.name for p in folders} - set(names))
                if extra:
                    raise AlphanasError(f"imagefolder: {split_dirs[s]} has class folder(s) {', '.join(extra)} that "
                                        f"{split_dirs['train']} lacks; every class needs training images")
        else:
            groups = {"all": tops}
            names = [p.name for p in tops]
        if not names:
            raise AlphanasError(f"imagefolder: {path} has no class sub-folders; put each class's images in a "
                                "sub-folder named after the class")
        label = {n: i for i, n in enumerate(names)}
        files: dict[str, list[tuple[Path, int]]] = {}
        for s, folders in groups.items():
            files[s] = []
            for folder in folders:
                imgs = _images_in(folder)
                if not imgs:
                    raise AlphanasError(f"imagefolder: class folder {folder} is empty (no {'/'.join(IMAGE_SUFFIXES)} "
                                        "files); add images or remove the folder")
                files[s].extend((p, label[folder.name]) for p in imgs)
        return cls(path, names, files, image_size, channels)

    def _target(self) -> tuple[int, tuple[int, int]]:
        """``(channels, (width, height))`` every decoded image gets: the options, else the first readable image's."""
        channels, size = self.channels, (self.image_size, self.image_size) if self.image_size else None
        if channels is not None and size is not None:
            return channels, size
        from PIL import Image

        first: tuple[Path, Exception] | None = None
        for path, _ in (e for entries in self.files.values() for e in entries):
            try:
                with Image.open(path) as im:
                    im.load()
                    grey = im.mode in ("1", "L", "LA", "I", "I;16", "F") or (
                        im.mode == "P" and im.palette is not None and im.palette.mode not in ("RGB", "RGBA"))
                    return channels or (1 if grey else 3), size or im.size
            except Exception as e:  # a corrupt file: look further (decode reports it)
                first = first or (path, e)
        assert first is not None  # scan() refuses folders without images
        bad, err = first
        raise AlphanasError(f"imagefolder: no image under {self.root} is readable (the first, {bad}: "
                            f"{type(err).__name__}: {' '.join(str(err).split())})")

    def decode(self, path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
        """One image as ``uint8 [channels, height, width]`` at ``size`` (``(width, height)``)."""
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.load()
                im = im.convert("L" if channels == 1 else "RGB")
                if im.size != size:
                    if self.image_size is None:
                        raise ParameterError(
                            "image_size", f"imagefolder: {path} is {im.size[0]}x{im.size[1]} but the first image "
                            f"is {size[0]}x{size[1]}; pass {{image_size}} N to resize every image to NxN")
                    shrink = im.size[0] >= size[0] and im.size[1] >= size[1]
                    im = im.resize(size, Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
                a = np.asarray(im, dtype=np.uint8)
        except AlphanasError:
            raise
        except Exception as e:  # truncated, not an image, unsupported
            raise CorruptImage(f"imagefolder: {path} is not a readable image ({type(e).__name__}: "
                               f"{' '.join(str(e).split())}); fix or delete it, or pass {{skip_corrupt}}") from None
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)

    def __len__(self) -> int:
        return sum(len(v) for v in self.files.values())

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """The ``i``-th image (splits in order train/val/test or all) and its label, decoded now."""
        for entries in self.files.values():
            if i < len(entries):
                path, label = entries[i]
                c, size = self._target()
                return self.decode(path, c, size), label
            i -= len(entries)
        raise IndexError(i)

    def load_arrays(self, skip_corrupt: bool = False) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
        """Every split decoded into ``uint8 [N, C, H, W]`` arrays with ``int64`` labels, and the corrupt files skipped."""
        c, (w, h) = self._target()
        out, skipped = {}, []
        for s, entries in self.files.items():
            x = np.empty((len(entries), c, h, w), np.uint8)
            y = np.empty(len(entries), np.int64)
            n = 0
            for path, label in entries:
                try:
                    x[n] = self.decode(path, c, (w, h))
                except CorruptImage:
                    if not skip_corrupt:
                        raise
                    skipped.append(str(path))
                    continue
                y[n] = label
                n += 1
            if n == 0:
                raise AlphanasError(f"imagefolder: every image of the {s} split under {self.root} is corrupt")
            out[s] = (x[:n], y[:n])
        return out, skipped


def load_imagefolder(root: str | os.PathLike | None = None, seed: int = 0, image_size: int | None = None,
                     channels: int | None = None, skip_corrupt: bool = False, val_fraction: float = 0.15,
                     test_fraction: float = 0.15) -> Dataset:
    """The image folder ``root`` as a :class:`Dataset` (see the module docstring); without top-level
    ``train/val/test`` folders the split is stratified from ``seed`` (15 % test, 15 % validation)."""
    if root is None:
        raise ParameterError("root", "imagefolder: no folder given; pass {root}=DIR holding one sub-folder per class")
    folder = ImageFolder.scan(root, image_size=image_size, channels=channels)
    arrays, skipped = folder.load_arrays(skip_corrupt)
    if "all" in arrays:
        arrays = {"train": arrays["all"]}
    ds = dataset_from_arrays("imagefolder", arrays, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                             num_classes=len(folder.class_names), class_names=folder.class_names,
                             default_augment="none")
    ds.skipped = skipped
    return ds


__all__ = ["IMAGE_SUFFIXES", "CorruptImage", "ImageFolder", "load_imagefolder"]
