"""Data for training: in-memory datasets, the mini-batch loader, splits, preprocessing,
augmentation and local file readers. Pure NumPy."""

from .augmentation import Compose, GaussianNoiseAugment, Jitter
from .dataset import ArrayDataset, PerSampleDataset, as_dataset
from .loader import DataLoader
from .encoding import OneHotEncoder, one_hot
from .preprocessing import (
    MinMaxScaler,
    Pipeline,
    Preprocessor,
    Standardizer,
    UnitNormalizer,
    merge_state,
    preprocessor_from_state,
    split_state,
)
from .readers import load_mnist_folder, read_csv, read_idx, read_npz
from .split import train_test_split, train_val_test_split
from .samplers import RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler
from .subsets import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .validation import as_features, check_finite, check_labels

__all__ = [
    "ArrayDataset",
    "PerSampleDataset",
    "as_dataset",
    "DataLoader",
    "Dataset",
    "ConcatDataset",
    "TensorDataset",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "Subset",
    "random_split",
    "train_test_split",
    "train_val_test_split",
    "Preprocessor",
    "Standardizer",
    "MinMaxScaler",
    "UnitNormalizer",
    "OneHotEncoder",
    "Pipeline",
    "one_hot",
    "preprocessor_from_state",
    "split_state",
    "merge_state",
    "GaussianNoiseAugment",
    "Jitter",
    "Compose",
    "read_csv",
    "read_npz",
    "read_idx",
    "load_mnist_folder",
    "as_features",
    "check_finite",
    "check_labels",
]
