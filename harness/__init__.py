"""harness: rejection sampling of code, verified in locked-down Docker sandboxes.

The pipeline, one module per stage: ``problems`` (what to solve) ->
``generate`` (candidates from a model; ``samples`` reads them) -> ``sandbox``
(where a candidate runs; its in-container supervisor judges it) -> ``run``
(the ``Runner`` schedules ``job``s on sandbox sessions, retrying
infrastructure failures) -> ``evaluate`` (judged rows in input order,
pass@k) -> ``select`` (dedup, re-measurement, ranking) -> ``export`` (the
dataset, the hub) -> ``store`` (verdicts kept for reruns) -> ``cli``.
``curate`` chains evaluate, select and export; ``options`` holds the option
objects they share; ``errors`` the exception tree.
"""

__version__ = "0.1.0"

from .errors import (
    ConfigError,
    HarnessError,
    HubError,
    ImageBuildError,
    InfraError,
    InputError,
    LimitsError,
    OutputError,
    PrerequisiteError,
    ProblemError,
    SampleError,
    SandboxError,
    StoreError,
)
from .evaluate import EvaluationSummary, evaluate
from .job import Candidate, Job, make_job
from .limits import Limits
from .options import CacheLocation, RunOptions
from .outcome import Execution, Outcome
from .passk import pass_at_k, pass_at_k_table
from .problems import CodeField, Problem, ProblemSet, TestKind, load_problems
from .run import Runner
from .samples import OnBadLine, Sample, read_samples

__all__ = [
    "CacheLocation",
    "Candidate",
    "CodeField",
    "ConfigError",
    "EvaluationSummary",
    "Execution",
    "HarnessError",
    "HubError",
    "ImageBuildError",
    "InfraError",
    "InputError",
    "Job",
    "Limits",
    "LimitsError",
    "OnBadLine",
    "Outcome",
    "OutputError",
    "PrerequisiteError",
    "Problem",
    "ProblemError",
    "ProblemSet",
    "RunOptions",
    "Runner",
    "Sample",
    "SampleError",
    "SandboxError",
    "StoreError",
    "TestKind",
    "__version__",
    "evaluate",
    "load_problems",
    "make_job",
    "pass_at_k",
    "pass_at_k_table",
    "read_samples",
]
