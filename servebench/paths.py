"""Where the checkout's own files are. Imports nothing heavy: every process may import it."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
