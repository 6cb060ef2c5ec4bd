"""The evaluation runner: datasets, metrics, runs, reports and comparisons."""

from assistant.evaluation.command import EvaluationError, cli_compare, cli_held_out, cli_import_feedback, cli_run

__all__ = ["EvaluationError", "cli_compare", "cli_held_out", "cli_import_feedback", "cli_run"]
