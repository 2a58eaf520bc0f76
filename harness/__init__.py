"""harness: rejection sampling of code, verified in locked-down Docker sandboxes.

The pipeline, one module per stage: ``problems`` (what to solve) ->
``samples`` (candidates) -> ``job`` (units of work) -> ``engine`` (runs jobs on
``sandbox`` sessions) -> ``evaluate`` (ordered results, summary) -> ``passk``.
"""

__version__ = "0.1.0"

from .engine import Engine
from .errors import (HarnessError, ImageBuildError, InfraError, InputError, PrerequisiteError, ProblemError,
                     SampleError, SandboxError)
from .evaluate import EvaluationSummary, evaluate
from .job import Candidate, Job, make_job
from .limits import Limits
from .outcome import Execution, Outcome
from .passk import pass_at_k, pass_at_k_table
from .problems import CodeField, Problem, ProblemSet, TestKind, load_problems
from .samples import OnBadLine, Sample, read_samples

__all__ = [
    "Candidate",
    "CodeField",
    "Engine",
    "EvaluationSummary",
    "Execution",
    "HarnessError",
    "ImageBuildError",
    "InfraError",
    "InputError",
    "Job",
    "Limits",
    "OnBadLine",
    "Outcome",
    "PrerequisiteError",
    "Problem",
    "ProblemError",
    "ProblemSet",
    "Sample",
    "SampleError",
    "SandboxError",
    "TestKind",
    "__version__",
    "evaluate",
    "load_problems",
    "make_job",
    "pass_at_k",
    "pass_at_k_table",
    "read_samples",
]
