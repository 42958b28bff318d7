"""Experiments (A/B tests of prompts, models, tools) and feedback on answers: what they are as data, who
gets which variant, and how each variant did. Knows nothing of HTTP or of how a turn runs."""

from parlor.experiments.assign import bucket, pick
from parlor.experiments.book import ExperimentBook, NoExperiments
from parlor.experiments.feedback import FeedbackRecord, FeedbackStore, MessageNotFound
from parlor.experiments.results import ExperimentResults, VariantResult, table, wilson
from parlor.experiments.service import Deployment, Experiments
from parlor.experiments.spec import NO_ARM, Arm, InvalidExperiment, Overrides, check
from parlor.experiments.store import ExperimentStore, StoredExperiment

__all__ = [
    "NO_ARM", "Arm", "Deployment", "ExperimentBook", "ExperimentResults", "ExperimentStore", "Experiments",
    "FeedbackRecord", "FeedbackStore", "InvalidExperiment", "MessageNotFound", "NoExperiments", "Overrides",
    "StoredExperiment", "VariantResult", "bucket", "check", "pick", "table", "wilson",
]
