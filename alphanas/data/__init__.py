"""Image-classification datasets as in-memory arrays: ``digits`` (embedded), ``cifar10`` (local folder), ``synthetic``.

    ds = load_dataset("digits", seed=0)
    ds.x_train.shape        # (1257, 1, 8, 8) float32, normalised with training statistics
    ds.input_shape          # (1, 8, 8)

Every dataset has three disjoint splits: *train* (fit), *validation* (model selection, early
stopping) and *test* (reported apart, never used to select anything). Splits are stratified and
derived from ``seed``. Nothing is ever downloaded: ``digits`` ships with scikit-learn and CIFAR-10
is read from a folder the user already has, in the standard CIFAR-10 *python* format.
"""

from alphanas.data.cifar10 import CIFAR10_ENV, CIFAR10_FILES, cifar10_root, load_cifar10, read_cifar10_batch
from alphanas.data.dataset import Dataset
from alphanas.data.digits import load_digits
from alphanas.data.registry import load_dataset, names
from alphanas.data.synthetic import load_synthetic

__all__ = ["CIFAR10_ENV", "CIFAR10_FILES", "Dataset", "cifar10_root", "load_cifar10", "load_dataset", "load_digits",
           "load_synthetic", "names", "read_cifar10_batch"]
