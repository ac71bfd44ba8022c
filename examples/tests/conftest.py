"""What a firmware team's HIL suite adds to use tinydeploy's pytest plugin: which model is under test.

The plugin (installed with `pip install tinydeploy[rig]`) provides the fixtures and options; here the
model defaults to the zoo's digits CNN when --tinydeploy-model is not given.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def tinydeploy_model_path(request) -> Path:
    option = request.config.getoption("tinydeploy_model")
    if option:
        return Path(option)
    from tinydeploy import zoo

    return zoo.tflite_model("digits_cnn")  # cached: converted once, reused by every run


@pytest.fixture(scope="session")
def digits_test_split():
    from tinydeploy import zoo

    _, _, x_test, y_test = zoo.digits_dataset()
    return x_test, y_test
