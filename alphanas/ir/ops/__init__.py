"""Built-in op definitions, one module per family. Importing this package registers them all."""

from alphanas.ir.ops import (  # noqa: F401
    deconv, einsum, elementwise, indexing, linear, logic, norm, pool, recurrent, repeat, resize, shape, shapeof)
