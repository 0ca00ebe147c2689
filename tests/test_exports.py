"""The names users import from the package root: the submission contract and the harness,
loaded on first use so that `import iebench` stays torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

import iebench
from iebench.evaluation import submission


def test_the_submission_contract_is_importable_from_the_root():
    from iebench import EncoderMetadata, Predictor, Submission

    assert EncoderMetadata is submission.EncoderMetadata
    assert Predictor is submission.Predictor and Submission is submission.Submission
    assert {"EncoderMetadata", "Predictor", "Submission", "evaluate"} <= set(dir(iebench))
    with pytest.raises(AttributeError, match="no attribute 'Encoder'"):
        iebench.Encoder  # noqa: B018


def test_import_iebench_loads_no_torch_until_a_contract_name_is_used():
    script = (
        "import sys, iebench\n"
        "print('torch' in sys.modules)\n"
        "from iebench import EncoderMetadata\n"
        "print('torch' in sys.modules, EncoderMetadata.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False", "True iebench.evaluation.submission"]
