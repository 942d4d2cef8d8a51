"""Datasets as in-memory arrays: ``digits`` (embedded), ``synthetic``, ``cifar10``/``cifar100``/``mnist``/
``fashion-mnist`` (local folders), ``imagefolder`` and ``npz`` (your own data; ``task="multilabel"`` or
``"regression"`` for targets that are not classes), plug-ins (``alphanas.datasets``).

    ds = load_dataset("digits", seed=0)
    ds.x_train.shape        # (1257, 1, 8, 8) float32, normalised with training statistics
    ds.input_shape          # (1, 8, 8)

Every dataset has three disjoint splits: *train* (fit), *validation* (model selection, early
stopping) and *test* (reported apart, never used to select anything). Splits are stratified and
derived from ``seed``. Nothing is ever downloaded: ``digits`` ships with scikit-learn and CIFAR-10
is read from a folder the user already has, in the standard CIFAR-10 *python* format. Bad data
(corrupt images, labels out of range, NaN, shapes that disagree) is one clear error (``checks``).
"""

from alphanas.data.arrays import dataset_from_arrays, load_npz
from alphanas.data.cifar10 import CIFAR10_ENV, CIFAR10_FILES, cifar10_root, load_cifar10, read_cifar10_batch
from alphanas.data.cifar100 import load_cifar100
from alphanas.data.dataset import Dataset
from alphanas.data.digits import load_digits
from alphanas.data.idx import load_fashion_mnist, load_mnist, read_idx
from alphanas.data.imagefolder import ImageFolder, load_imagefolder
from alphanas.data.registry import ENTRY_POINT_GROUP, load_dataset, names
from alphanas.data.synthetic import load_synthetic

__all__ = ["CIFAR10_ENV", "CIFAR10_FILES", "ENTRY_POINT_GROUP", "Dataset", "ImageFolder", "cifar10_root",
           "dataset_from_arrays", "load_cifar10", "load_cifar100", "load_dataset", "load_digits", "load_fashion_mnist",
           "load_imagefolder", "load_mnist", "load_npz", "load_synthetic", "names", "read_cifar10_batch", "read_idx"]
