"""The server never keeps scikit-learn in memory: training happens in a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from pathlib import Path
from bot.nlu import build_interpreter
interpreter = build_interpreter(["en", "es"], cache_dir=Path(sys.argv[1]), train_elsewhere=True)
assert interpreter.parse("i need help", "en").intent == "request_help"
print("sklearn" in sys.modules, sorted(interpreter.model_sources.values()))
"""


def test_models_train_in_a_child_and_load_from_cache(tmp_path: Path) -> None:
    for _ in range(2):  # first run trains (in a child), second only loads
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert result.stdout.strip() == "False ['cache', 'cache']"
    assert len(list(tmp_path.rglob("*.npz"))) == 2
