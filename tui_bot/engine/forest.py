"""A fitted binary HistGradientBoostingClassifier compiled into flat numpy arrays.

scikit-learn predicts by calling each tree's predictor in turn from Python, which for a few rows
costs far more than the arithmetic. Here every row is run through every tree at once, in a fixed
number of numpy steps whatever the trees' count and depth (QuickScorer's rule, applied per
feature):

- A tree's leaves are numbered left to right and a set of them is a bit mask. A row that goes
  right at a split cannot reach the leaves of that split's left subtree; the leaf it does reach
  is the leftmost one that no split it goes right at rules out.
- Which splits on feature f a row goes right at depends only on where its value falls among the
  distinct thresholds of f (or on its being NaN). So for each feature, each such place and each
  tree, the leaves still reachable are computed once, at compile time. Predicting is then one
  searchsorted per feature, one table look-up and an AND over the features.

The result is bit-identical to `estimator.decision_function(X)`: the same decisions as sklearn's
float64 comparisons (`x <= threshold`, NaN by missing_go_to_left) and the leaf values added to
the baseline one tree at a time in tree order.

numpy is the only import at module level; scikit-learn is imported by `compile_forest`, whose
estimator has loaded it already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_LEAVES = 64  # a tree's reachable leaves are the bits of one unsigned integer
# The fields of sklearn's PREDICTOR_RECORD_DTYPE (1.9) that these rules were written against.
NODE_FIELDS = (
    "value",
    "count",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "gain",
    "depth",
    "is_leaf",
    "bin_threshold",
    "is_categorical",
    "bitset_idx",
)


@dataclass(frozen=True, eq=False)
class CompiledForest:
    """Reachable-leaf tables for every feature, and the leaves of all trees in tree order.

    For feature f, a value x with `rank = searchsorted(thresholds[f], x)` (how many thresholds
    are below x: x <= the threshold numbered j exactly when rank <= j) looks up row
    `table_start[f] + rank` of `reachable`; a NaN looks up row `nan_row[f]`. That row holds, per
    tree, the mask of the leaves that f's splits leave reachable. A split whose threshold is NaN
    (sklearn's percentile binning makes some on a feature holding +-inf) sends every number
    right, as `x <= NaN` is False.
    """

    # float64, per feature: its splits' distinct thresholds but NaN
    thresholds: tuple[np.ndarray, ...]
    table_start: np.ndarray  # intp, per feature: its first row of `reachable`
    nan_row: np.ndarray  # intp, per feature: its row of `reachable` for a NaN
    reachable: np.ndarray  # unsigned, (rows, trees): bit i set = the tree's leaf i can be reached
    tree_leaves: np.ndarray  # intp, per tree: the index of its first leaf in leaf_value
    leaf_value: np.ndarray  # float64, all trees' leaves, each tree's left to right
    baseline: float  # the raw prediction before any tree

    def accepts(self, X: object) -> bool:
        """Whether `X` is a numeric 2-D array this forest predicts exactly like sklearn. Anything
        else goes to sklearn, which converts it or raises its own error."""
        return (
            isinstance(X, np.ndarray)
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == len(self.thresholds)
            and X.dtype.kind in "fiu"
        )

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The raw log-odds per row, shape (n,), bit-identical to sklearn's decision_function."""
        values = self.leaf_value[self._leaves(np.asarray(X, dtype=np.float64))]
        # sklearn starts from zeros, adds the baseline, then each tree's value in tree order.
        # cumsum adds strictly in order (np.sum need not: along a contiguous axis it sums
        # pairwise, which rounds differently).
        values[:, 0] += 0.0 + self.baseline
        return np.cumsum(values, axis=1)[:, -1]

    def _leaves(self, X: np.ndarray) -> np.ndarray:
        """The leaf every row of float64 X reaches in every tree, shape (rows, trees), as
        indexes of leaf_value."""
        rows = np.empty((len(self.thresholds), len(X)), dtype=np.intp)
        for feature, thresholds in enumerate(self.thresholds):
            rows[feature] = np.searchsorted(thresholds, X[:, feature])
        rows += self.table_start[:, None]
        rows = np.where(np.isnan(X.T), self.nan_row[:, None], rows)
        reachable = np.bitwise_and.reduce(self.reachable[rows], axis=0)
        leftmost = reachable & -reachable  # its lowest set bit alone: 2**leaf
        leaves: np.ndarray = _exponent(leftmost) + self.tree_leaves
        return leaves


def _exponent(powers_of_two: np.ndarray) -> np.ndarray:
    """k for each 2**k (k < 64): a float64 holds 2**k exactly, with k + 1023 in bits 52-62."""
    return (powers_of_two.astype(np.float64).view(np.int64) >> 52) - 1023


# One tree's splits, each (feature, threshold, missing_go_to_left, kept_if_right: the mask of
# its tree's leaves a row going right can still reach), and its leaf values left to right
_TreeParts = tuple[list[tuple[int, float, bool, int]], list[float]]


@dataclass(frozen=True)
class _Splits:
    """Every split of the forest: entry i of each array is split i."""

    tree: np.ndarray  # intp
    feature: np.ndarray  # intp
    threshold: np.ndarray  # float64
    missing_go_to_left: np.ndarray  # bool
    kept_if_right: np.ndarray  # uint64


def compile_forest(estimator: Any) -> CompiledForest | None:
    """The compiled form of a fitted binary HistGradientBoostingClassifier on numeric features,
    or None for anything it cannot reproduce exactly (the caller then uses sklearn)."""
    try:
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        return None
    if type(estimator) is not HistGradientBoostingClassifier or not _is_plain_binary(
        estimator, HalfBinomialLoss
    ):
        return None
    trees = [iteration[0].nodes for iteration in estimator._predictors]
    if not trees or not all(_is_plain_tree(nodes) for nodes in trees):
        return None
    baseline = float(estimator._baseline_prediction[0, 0])
    return _tabulate([_tree_parts(nodes) for nodes in trees], baseline, estimator.n_features_in_)


def _is_plain_binary(estimator: object, binomial_loss: type) -> bool:
    """Fitted, two classes, log loss, numeric features only, columns used as given."""
    baseline = getattr(estimator, "_baseline_prediction", None)
    return (
        hasattr(estimator, "_predictors")
        and len(getattr(estimator, "classes_", ())) == 2
        and getattr(estimator, "n_trees_per_iteration_", None) == 1
        and isinstance(getattr(estimator, "_loss", None), binomial_loss)
        and getattr(estimator, "_preprocessor", None) is None
        and getattr(estimator, "is_categorical_", None) is None
        # fitted on a DataFrame, sklearn checks (and warns about) the names of what it is given
        and not hasattr(estimator, "feature_names_in_")
        and isinstance(baseline, np.ndarray)
        and baseline.shape == (1, 1)
        and baseline.dtype == np.float64
        and all(len(iteration) == 1 for iteration in estimator._predictors)
    )


def _is_plain_tree(nodes: np.ndarray) -> bool:
    """A tree of numeric splits in the node layout these rules were written for, with at most
    MAX_LEAVES leaves."""
    if nodes.dtype.names != NODE_FIELDS or len(nodes) == 0:
        return False
    if nodes.dtype["value"] != np.float64 or nodes.dtype["num_threshold"] != np.float64:
        return False
    if np.count_nonzero(nodes["is_leaf"]) > MAX_LEAVES:
        return False
    return not nodes["is_categorical"][nodes["is_leaf"] == 0].any()


def _tree_parts(nodes: np.ndarray) -> _TreeParts:
    """One tree's splits as (feature, threshold, missing_go_to_left, kept_if_right) and its
    leaf values, left to right."""
    # plain lists: reading numpy's structured scalars node by node costs several times more
    is_leaf, value = nodes["is_leaf"].tolist(), nodes["value"].tolist()
    left, right = nodes["left"].tolist(), nodes["right"].tolist()
    feature, threshold = nodes["feature_idx"].tolist(), nodes["num_threshold"].tolist()
    missing_left = nodes["missing_go_to_left"].tolist()
    splits: list[tuple[int, float, bool, int]] = []
    leaves: list[float] = []

    def walk(index: int) -> tuple[int, int]:
        """Adds the subtree at `index`; returns the range of its leaves' numbers."""
        if is_leaf[index]:
            leaves.append(float(value[index]))
            return len(leaves) - 1, len(leaves)
        first, middle = walk(left[index])
        _, end = walk(right[index])
        kept_if_right = (2**MAX_LEAVES - 1) ^ ((1 << middle) - (1 << first))
        splits.append((feature[index], threshold[index], bool(missing_left[index]), kept_if_right))
        return first, end

    walk(0)
    return splits, leaves


def _tabulate(trees: list[_TreeParts], baseline: float, n_features: int) -> CompiledForest:
    leaf_counts = [len(leaves) for _, leaves in trees]
    mask_type = np.min_scalar_type(2 ** max(leaf_counts) - 1)
    splits = _all_splits(trees)
    thresholds = []
    tables = []
    for feature in range(n_features):
        on_feature = splits.feature == feature
        feature_thresholds = np.unique(splits.threshold[on_feature])
        feature_thresholds = feature_thresholds[~np.isnan(feature_thresholds)]
        thresholds.append(feature_thresholds.astype(np.float64))
        tables.append(_feature_table(splits, on_feature, feature_thresholds, len(trees)))
    rows_per_feature = [len(table) for table in tables]
    table_start = np.concatenate([[0], np.cumsum(rows_per_feature)[:-1]]).astype(np.intp)
    all_leaves = np.uint64(2 ** max(leaf_counts) - 1)  # only the bits a tree can have
    return CompiledForest(
        thresholds=tuple(thresholds),
        table_start=table_start,
        nan_row=table_start + np.array(rows_per_feature, dtype=np.intp) - 1,
        reachable=(np.concatenate(tables) & all_leaves).astype(mask_type),
        tree_leaves=np.concatenate([[0], np.cumsum(leaf_counts)[:-1]]).astype(np.intp),
        leaf_value=np.array([value for _, leaves in trees for value in leaves], np.float64),
        baseline=baseline,
    )


def _all_splits(trees: list[_TreeParts]) -> _Splits:
    rows = [(tree, *split) for tree, (tree_splits, _) in enumerate(trees) for split in tree_splits]
    tree, feature, threshold, missing_left, kept = zip(*rows, strict=True) if rows else [()] * 5
    return _Splits(
        tree=np.array(tree, dtype=np.intp),
        feature=np.array(feature, dtype=np.intp),
        threshold=np.array(threshold, dtype=np.float64),
        missing_go_to_left=np.array(missing_left, dtype=bool),
        kept_if_right=np.array(kept, dtype=np.uint64),
    )


def _feature_table(
    splits: _Splits, on_feature: np.ndarray, thresholds: np.ndarray, n_trees: int
) -> np.ndarray:
    """Rows 0..len(thresholds) by rank, then one for NaN; per tree the leaves still reachable
    after the feature's splits in that tree, as uint64."""
    table = np.full((len(thresholds) + 2, n_trees), 2**64 - 1, dtype=np.uint64)
    tree, kept = splits.tree[on_feature], splits.kept_if_right[on_feature]
    threshold = splits.threshold[on_feature]
    # x goes right when not x <= threshold: when its rank is above the threshold's number, or
    # always if the threshold is NaN. A split's mask goes in at the first rank it sends right;
    # the AND accumulated down the ranks carries it to every rank above.
    number = np.where(np.isnan(threshold), -1, np.searchsorted(thresholds, threshold))
    np.bitwise_and.at(table, (number + 1, tree), kept)
    ranks = len(thresholds) + 1
    table[:ranks] = np.bitwise_and.accumulate(table[:ranks], axis=0)
    nan_goes_right = ~splits.missing_go_to_left[on_feature]
    np.bitwise_and.at(table[-1], tree[nan_goes_right], kept[nan_goes_right])
    return table
