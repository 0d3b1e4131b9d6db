"""Exceptions and warning classes of alsstats.

Every warning the package emits is a subclass of :class:`AlsstatsWarning`, so a
researcher can silence, escalate or catch them as a family
(``warnings.simplefilter("error", alsstats.AlsstatsWarning)``) or one by one.
Each message says what happened and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AlsstatsDeprecationWarning",
    "AlsstatsWarning",
    "ConvergenceWarning",
    "DataValidationError",
    "DroppedRowsWarning",
    "FormulaError",
    "ImageReadError",
    "OutputFolderError",
    "RankDeficiencyWarning",
    "ScaleWarning",
    "SingularFitWarning",
    "SkippedAnalysisWarning",
    "TableReadError",
    "UnclassifiedSubjectsWarning",
]


class DataValidationError(ValueError):
    """A table breaks the visit-table contract (or a function's input rules).

    The message lists every problem at once, one per line, each in the format of
    :mod:`alsstats.validation`: the function, the column, the subjects, visits or
    rows concerned and the offending values.

    Attributes
    ----------
    problems : list of str
        One human-readable line per problem.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        header = f"{len(self.problems)} problem(s) in the table:"
        super().__init__("\n".join([header, *("  - " + p for p in self.problems)]))


class FormulaError(ValueError):
    """A model formula that alsstats cannot parse or does not support."""


class ImageReadError(OSError):
    """An image (mask, atlas, FLAIR) that could not be read; names the file."""


class TableReadError(ValueError):
    """A table file that could not be read as the table it claims to be; names the file."""


class OutputFolderError(ValueError):
    """An output folder a run may not write to (it would overwrite what the run did not create)."""


class AlsstatsWarning(UserWarning):
    """Base class of every warning alsstats emits."""


class ConvergenceWarning(AlsstatsWarning):
    """The optimiser stopped without meeting its convergence criteria."""


class SingularFitWarning(AlsstatsWarning):
    """A random-effect covariance is at the boundary (lme4's ``isSingular``)."""


class RankDeficiencyWarning(AlsstatsWarning):
    """The fixed-effects design matrix is rank deficient; columns were dropped."""


class ScaleWarning(AlsstatsWarning):
    """Predictors differ in scale by orders of magnitude; consider rescaling."""


class DroppedRowsWarning(AlsstatsWarning):
    """Rows were left out (e.g. missing values in a model's columns); says how many."""


class UnclassifiedSubjectsWarning(AlsstatsWarning):
    """Subjects could not be classified (e.g. censored before a survival cut-off)."""


class AlsstatsDeprecationWarning(AlsstatsWarning, FutureWarning):
    """A call that still works but stops working in the next release; says what to write.

    A ``FutureWarning`` as well, so Python shows it to end users by default (a plain
    ``DeprecationWarning`` is hidden outside ``__main__``).
    """


class SkippedAnalysisWarning(AlsstatsWarning):
    """An analysis could not run on this table (e.g. no deaths yet); says which and why."""
