"""Data readers and preprocessing. See readers.py."""

from edge_inception.data.readers import FASHION_MNIST_LABELS, ImageSource, open_source, read_fashion_mnist

__all__ = ["FASHION_MNIST_LABELS", "ImageSource", "open_source", "read_fashion_mnist"]
